;; A SQL function in WebAssembly text, loaded by a job at run time:
;;
;;   functions:
;;     risk_band: {wasm: risk_band.wat, args: [float64, int64], returns: int64}
;;     initials:  {wasm: risk_band.wat, args: [string], returns: string}
;;
;; risk_band(amount, hour) is 2 for more than 100 at night (before 6:00),
;; 1 for more than 100, else 0. initials(s) is the first byte of s (ASCII),
;; showing the string ABI: strings come in as (ptr, len) in memory the
;; module hands out through `alloc`, and go back as (ptr << 32) | len.
;; Any language that compiles to WebAssembly works (Rust with
;; --target wasm32-unknown-unknown, AssemblyScript, TinyGo, Zig).
(module
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 1024))
  (func (export "alloc") (param $len i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get $len)))
    (local.get $p))
  (func (export "risk_band") (param $amount f64) (param $hour i64) (result i64)
    (if (result i64) (f64.gt (local.get $amount) (f64.const 100))
      (then (if (result i64) (i64.lt_s (local.get $hour) (i64.const 6))
        (then (i64.const 2)) (else (i64.const 1))))
      (else (i64.const 0))))
  (func (export "initials") (param $p i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32))
            (i64.extend_i32_u (select (i32.const 1) (local.get $len)
                                      (i32.gt_u (local.get $len) (i32.const 0)))))))
