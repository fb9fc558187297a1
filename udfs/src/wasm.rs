//! SQL functions loaded at run time from WebAssembly modules, without
//! rebuilding Quiver.
//!
//! A job declares them under `functions:` (name, module, export, argument
//! and result types). The module runs in [wasmi], a pure-Rust interpreter,
//! as a sandbox: it gets no imports (no files, network, clock or
//! randomness, so it is deterministic), its memory is capped at
//! [`MEMORY_LIMIT`] bytes and each call at [`FUEL_PER_CALL`] units of fuel
//! (roughly instructions), so a runaway loop ends in a trap instead of a
//! stalled job. An interpreter rather than a JIT (wasmtime) keeps the build
//! small and the attack surface of generated machine code out; UDFs are
//! short row functions, where that costs little.
//!
//! **The ABI.** SQL types map to WebAssembly values: BIGINT and TIMESTAMP
//! (ms) to `i64`, DOUBLE to `f64`, BOOLEAN and DATE (days) to `i32`. A
//! VARCHAR argument is passed as two `i32`s, a pointer and a length in
//! bytes (UTF-8), written into memory the module allocates through its
//! exported `alloc(len: i32) -> i32`; a VARCHAR result is returned as one
//! `i64`, `(ptr << 32) | len`. Modules with VARCHARs must export `memory`
//! and `alloc`. The signature of the export is checked against the declared
//! types when the job is planned, with errors naming the function and the
//! argument.
//!
//! **Contract.** NULL in gives NULL out (the module is not called); a trap
//! (including running out of fuel or memory) or a result that is not valid
//! UTF-8 gives NULL for that row. One instance serves one batch; memory the
//! module allocates lives until the batch ends.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray,
    TimestampMillisecondArray,
};
use quiver_sql::{ArgInfo, ColumnarValue, FunctionError, ScalarFunction};
use quiver_types::DataType;
use wasmi::{
    Config, Engine, ExternType, Func, Instance, Linker, Module, Store, StoreLimits,
    StoreLimitsBuilder, Val, ValType,
};

use crate::args::broadcast;

/// Linear memory a module may grow to.
pub const MEMORY_LIMIT: usize = 64 << 20;
/// Fuel for one call (one row).
pub const FUEL_PER_CALL: u64 = 10_000_000;

/// A function implemented by an export of a WebAssembly module.
pub struct WasmFunction {
    name: String,
    doc: String,
    engine: Engine,
    module: Module,
    export: String,
    args: Vec<DataType>,
    returns: DataType,
}

impl fmt::Debug for WasmFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WasmFunction")
            .field("name", &self.name)
            .field("export", &self.export)
            .field("args", &self.args)
            .field("returns", &self.returns)
            .finish()
    }
}

/// The WebAssembly values one SQL value of `t` is passed as.
fn abi(t: DataType) -> Result<&'static [ValType], String> {
    Ok(match t {
        DataType::Int64 | DataType::Timestamp => &[ValType::I64],
        DataType::Float64 => &[ValType::F64],
        DataType::Bool | DataType::Date => &[ValType::I32],
        DataType::String => &[ValType::I32, ValType::I32],
        other => {
            return Err(format!(
                "{} values cannot be passed to WebAssembly functions (use int64, float64, bool, string, timestamp or date)",
                other.spec_name()
            ));
        }
    })
}

/// The WebAssembly value a result of `t` comes back as.
fn abi_result(t: DataType) -> Result<ValType, String> {
    Ok(match t {
        DataType::String => ValType::I64,
        t => abi(t)?[0],
    })
}

fn show(types: &[ValType]) -> String {
    let names: Vec<String> = types
        .iter()
        .map(|t| format!("{t:?}").to_lowercase())
        .collect();
    format!("({})", names.join(", "))
}

impl WasmFunction {
    /// Loads `export` of the module at `path` (binary `.wasm` or `.wat`
    /// text) as the SQL function `name(args) -> returns`, checking the
    /// export's signature against the declared types.
    pub fn load(
        name: &str,
        path: &Path,
        export: &str,
        args: &[DataType],
        returns: DataType,
    ) -> Result<WasmFunction, String> {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read WebAssembly module {}: {e}", path.display()))?;
        let mut config = Config::default();
        config.consume_fuel(true);
        let engine = Engine::new(&config);
        let module = Module::new(&engine, &bytes)
            .map_err(|e| format!("{} is not a valid WebAssembly module: {e}", path.display()))?;
        if let Some(i) = module.imports().next() {
            return Err(format!(
                "the module imports `{}::{}`; modules run without imports (no host functions)",
                i.module(),
                i.name()
            ));
        }
        let f = WasmFunction {
            name: name.to_ascii_uppercase(),
            doc: format!("WebAssembly function `{export}` from {}.", path.display()),
            engine,
            module,
            export: export.to_string(),
            args: args.to_vec(),
            returns,
        };
        // Instantiate once now, so a bad module fails at planning.
        let (store, instance) = f.instantiate()?;
        let func = instance.get_func(&store, export).ok_or_else(|| {
            let exports: Vec<String> = f
                .module
                .exports()
                .filter(|e| matches!(e.ty(), ExternType::Func(_)))
                .map(|e| e.name().to_string())
                .collect();
            format!(
                "the module exports no function `{export}` (exports: {})",
                exports.join(", ")
            )
        })?;
        let ty = func.ty(&store);
        let mut want: Vec<ValType> = Vec::new();
        for (i, a) in args.iter().enumerate() {
            want.extend(abi(*a).map_err(|e| format!("argument {}: {e}", i + 1))?);
        }
        let want_result = abi_result(returns).map_err(|e| format!("result: {e}"))?;
        if ty.params() != want.as_slice() || ty.results() != [want_result] {
            return Err(format!(
                "export `{export}` has the signature {} -> {}, but the declared types need {} -> ({})",
                show(ty.params()),
                show(ty.results()),
                show(&want),
                format!("{want_result:?}").to_lowercase()
            ));
        }
        let strings = returns == DataType::String || args.contains(&DataType::String);
        if strings {
            for (what, ok) in [
                ("memory", instance.get_memory(&store, "memory").is_some()),
                ("alloc", instance.get_func(&store, "alloc").is_some()),
            ] {
                if !ok {
                    return Err(format!(
                        "functions with string arguments or results need the module to export `{what}` (see the ABI in udfs/README.md)"
                    ));
                }
            }
        }
        Ok(f)
    }

    fn instantiate(&self) -> Result<(Store<StoreLimits>, Instance), String> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(MEMORY_LIMIT)
            .instances(1)
            .build();
        let mut store = Store::new(&self.engine, limits);
        store.limiter(|l| l);
        store
            .set_fuel(FUEL_PER_CALL)
            .map_err(|e| format!("{}: {e}", self.name))?;
        let instance = Linker::<StoreLimits>::new(&self.engine)
            .instantiate_and_start(&mut store, &self.module)
            .map_err(|e| format!("{}: cannot start the module: {e}", self.name))?;
        Ok((store, instance))
    }
}

/// One batch's instance.
struct Call {
    store: Store<StoreLimits>,
    instance: Instance,
    func: Func,
    alloc: Option<Func>,
}

impl Call {
    /// Copies `s` into the module's memory.
    fn pass_string(&mut self, s: &str, out: &mut Vec<Val>) -> Option<()> {
        let alloc = self.alloc?;
        let len = i32::try_from(s.len()).ok()?;
        let mut ptr = [Val::I32(0)];
        alloc
            .call(&mut self.store, &[Val::I32(len)], &mut ptr)
            .ok()?;
        let Val::I32(p) = ptr[0] else { return None };
        let memory = self.instance.get_memory(&self.store, "memory")?;
        memory
            .write(&mut self.store, p as u32 as usize, s.as_bytes())
            .ok()?;
        out.push(Val::I32(p));
        out.push(Val::I32(len));
        Some(())
    }

    fn read_string(&self, packed: i64) -> Option<String> {
        let (ptr, len) = (
            (packed as u64 >> 32) as usize,
            (packed as u64 & 0xffff_ffff) as usize,
        );
        let memory = self.instance.get_memory(&self.store, "memory")?;
        let bytes = memory.data(&self.store).get(ptr..ptr.checked_add(len)?)?;
        String::from_utf8(bytes.to_vec()).ok()
    }
}

impl ScalarFunction for WasmFunction {
    fn name(&self) -> &str {
        &self.name
    }

    fn doc(&self) -> &str {
        &self.doc
    }

    fn return_type(&self, args: &[ArgInfo<'_>]) -> Result<DataType, String> {
        if args.len() != self.args.len() {
            return Err(format!(
                "takes {} argument{}, got {}",
                self.args.len(),
                if self.args.len() == 1 { "" } else { "s" },
                args.len()
            ));
        }
        for (i, (a, want)) in args.iter().zip(&self.args).enumerate() {
            let ok = a.data_type == *want
                || a.data_type == DataType::Null
                || (*want == DataType::Float64 && a.data_type == DataType::Int64);
            if !ok {
                return Err(format!(
                    "argument {} must be {}, found {}",
                    i + 1,
                    want.sql_name(),
                    a.data_type.sql_name()
                ));
            }
        }
        Ok(self.returns)
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ArrayRef, FunctionError> {
        let fail = |message: String| FunctionError {
            function: self.name.clone(),
            message,
        };
        let cols: Vec<ArrayRef> = args
            .iter()
            .zip(&self.args)
            .map(|(a, t)| broadcast(a, *t, num_rows))
            .collect::<Result<_, _>>()
            .map_err(fail)?;
        let (store, instance) = self.instantiate().map_err(fail)?;
        let func = instance
            .get_func(&store, &self.export)
            .ok_or_else(|| fail(format!("no export `{}`", self.export)))?;
        let alloc = instance.get_func(&store, "alloc");
        let mut call = Call {
            store,
            instance,
            func,
            alloc,
        };
        let mut results: Vec<Option<Val>> = Vec::with_capacity(num_rows);
        let mut params = Vec::new();
        for row in 0..num_rows {
            params.clear();
            let mut complete = true;
            for (c, t) in cols.iter().zip(&self.args) {
                if c.is_null(row) {
                    complete = false;
                    break;
                }
                let ok = match t {
                    DataType::Int64 => {
                        let a = c.as_any().downcast_ref::<Int64Array>();
                        a.map(|a| params.push(Val::I64(a.value(row))))
                    }
                    DataType::Timestamp => {
                        let a = c.as_any().downcast_ref::<TimestampMillisecondArray>();
                        a.map(|a| params.push(Val::I64(a.value(row))))
                    }
                    DataType::Float64 => {
                        let a = c.as_any().downcast_ref::<Float64Array>();
                        a.map(|a| params.push(Val::F64(a.value(row).into())))
                    }
                    DataType::Bool => {
                        let a = c.as_any().downcast_ref::<BooleanArray>();
                        a.map(|a| params.push(Val::I32(a.value(row) as i32)))
                    }
                    DataType::Date => {
                        let a = c.as_any().downcast_ref::<Date32Array>();
                        a.map(|a| params.push(Val::I32(a.value(row))))
                    }
                    DataType::String => {
                        let s = c
                            .as_any()
                            .downcast_ref::<StringArray>()
                            .map(|a| a.value(row));
                        match s {
                            Some(s) => call.pass_string(s, &mut params),
                            None => None,
                        }
                    }
                    _ => None,
                };
                if ok.is_none() {
                    complete = false;
                    break;
                }
            }
            if !complete {
                results.push(None);
                continue;
            }
            // Each row gets the same budget.
            if call.store.set_fuel(FUEL_PER_CALL).is_err() {
                results.push(None);
                continue;
            }
            let mut out = [Val::I32(0)];
            let ok = call.func.call(&mut call.store, &params, &mut out).is_ok();
            results.push(ok.then(|| out[0].clone()));
        }
        Ok(match self.returns {
            DataType::Int64 => Arc::new(
                results
                    .iter()
                    .map(|v| match v {
                        Some(Val::I64(x)) => Some(*x),
                        _ => None,
                    })
                    .collect::<Int64Array>(),
            ),
            DataType::Timestamp => Arc::new(
                results
                    .iter()
                    .map(|v| match v {
                        Some(Val::I64(x)) => Some(*x),
                        _ => None,
                    })
                    .collect::<TimestampMillisecondArray>()
                    .with_timezone("UTC"),
            ),
            DataType::Float64 => Arc::new(
                results
                    .iter()
                    .map(|v| match v {
                        Some(Val::F64(x)) => Some(x.to_float()).filter(|f| f.is_finite()),
                        _ => None,
                    })
                    .collect::<Float64Array>(),
            ),
            DataType::Bool => Arc::new(
                results
                    .iter()
                    .map(|v| match v {
                        Some(Val::I32(x)) => Some(*x != 0),
                        _ => None,
                    })
                    .collect::<BooleanArray>(),
            ),
            DataType::Date => Arc::new(
                results
                    .iter()
                    .map(|v| match v {
                        Some(Val::I32(x)) => Some(*x),
                        _ => None,
                    })
                    .collect::<Date32Array>(),
            ),
            DataType::String => Arc::new(
                results
                    .iter()
                    .map(|v| match v {
                        Some(Val::I64(x)) => call.read_string(*x),
                        _ => None,
                    })
                    .collect::<StringArray>(),
            ),
            other => return Err(fail(format!("cannot return {}", other.sql_name()))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module in WebAssembly text: numbers, a string function using the
    /// ABI, a runaway loop, and a trap.
    const MODULE: &str = r#"
    (module
      (memory (export "memory") 1)
      (global $next (mut i32) (i32.const 1024))
      (func (export "alloc") (param $len i32) (result i32)
        (local $p i32)
        (local.set $p (global.get $next))
        (global.set $next (i32.add (global.get $next) (local.get $len)))
        (local.get $p))
      ;; risk_band(amount, hour) = 2 if amount > 100 at night, 1 if amount > 100, else 0
      (func (export "risk_band") (param $amount f64) (param $hour i64) (result i64)
        (if (result i64) (f64.gt (local.get $amount) (f64.const 100))
          (then (if (result i64) (i64.lt_s (local.get $hour) (i64.const 6))
            (then (i64.const 2)) (else (i64.const 1))))
          (else (i64.const 0))))
      ;; first_char(s): the first byte of s as a string (empty stays empty)
      (func (export "first_char") (param $p i32) (param $len i32) (result i64)
        (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32))
                (i64.extend_i32_u (select (i32.const 1) (local.get $len) (i32.gt_u (local.get $len) (i32.const 0))))))
      (func (export "spin") (param $x i64) (result i64)
        (loop $l (br $l)) (i64.const 0))
      (func (export "boom") (param $x i64) (result i64) unreachable))
    "#;

    fn module() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.wat"), MODULE).unwrap();
        dir
    }

    fn info(t: DataType) -> ArgInfo<'static> {
        ArgInfo {
            data_type: t,
            literal: None,
        }
    }

    #[test]
    fn numbers_strings_nulls_and_traps() {
        let dir = module();
        let path = dir.path().join("m.wat");
        let band = WasmFunction::load(
            "risk_band",
            &path,
            "risk_band",
            &[DataType::Float64, DataType::Int64],
            DataType::Int64,
        )
        .unwrap();
        assert_eq!(band.name(), "RISK_BAND");
        // BIGINT is accepted for a DOUBLE parameter; VARCHAR is not.
        assert_eq!(
            band.return_type(&[info(DataType::Int64), info(DataType::Int64)]),
            Ok(DataType::Int64)
        );
        assert_eq!(
            band.return_type(&[info(DataType::String), info(DataType::Int64)]),
            Err("argument 1 must be DOUBLE, found VARCHAR".to_string())
        );
        assert_eq!(
            band.return_type(&[info(DataType::Float64)]),
            Err("takes 2 arguments, got 1".to_string())
        );
        let out = band
            .invoke(
                &[
                    ColumnarValue::Array(Arc::new(Float64Array::from(vec![
                        Some(150.0),
                        Some(150.0),
                        Some(5.0),
                        None,
                    ]))),
                    ColumnarValue::Array(Arc::new(Int64Array::from(vec![
                        Some(3),
                        Some(12),
                        Some(3),
                        Some(3),
                    ]))),
                ],
                4,
            )
            .unwrap();
        let out = out.as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(
            out.iter().collect::<Vec<_>>(),
            vec![Some(2), Some(1), Some(0), None]
        );

        let first = WasmFunction::load(
            "first_char",
            &path,
            "first_char",
            &[DataType::String],
            DataType::String,
        )
        .unwrap();
        let out = first
            .invoke(
                &[ColumnarValue::Array(Arc::new(StringArray::from(vec![
                    Some("quiver"),
                    Some(""),
                    None,
                ])))],
                3,
            )
            .unwrap();
        let out = out.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(
            out.iter().collect::<Vec<_>>(),
            vec![Some("q"), Some(""), None]
        );

        // A runaway loop runs out of fuel and a trap gives NULL: no hang, no panic.
        for export in ["spin", "boom"] {
            let f = WasmFunction::load(export, &path, export, &[DataType::Int64], DataType::Int64)
                .unwrap();
            let out = f
                .invoke(&[ColumnarValue::Scalar(quiver_types::Value::Int64(1))], 2)
                .unwrap();
            assert_eq!(out.null_count(), 2, "{export}");
        }
    }

    #[test]
    fn declarations_that_do_not_match_the_module_are_refused() {
        let dir = module();
        let path = dir.path().join("m.wat");
        let e = WasmFunction::load("x", &path, "nope", &[], DataType::Int64).unwrap_err();
        assert!(
            e.contains(
                "exports no function `nope` (exports: alloc, boom, first_char, risk_band, spin)"
            ),
            "{e}"
        );
        let e = WasmFunction::load(
            "risk_band",
            &path,
            "risk_band",
            &[DataType::Int64, DataType::Int64],
            DataType::Int64,
        )
        .unwrap_err();
        assert!(
            e.contains("has the signature (f64, i64) -> (i64), but the declared types need (i64, i64) -> (i64)"),
            "{e}"
        );
        let e = WasmFunction::load("x", Path::new("/no/such.wasm"), "x", &[], DataType::Int64)
            .unwrap_err();
        assert!(e.contains("cannot read WebAssembly module"), "{e}");
        std::fs::write(dir.path().join("bad.wasm"), b"\0asm junk").unwrap();
        let e = WasmFunction::load("x", &dir.path().join("bad.wasm"), "x", &[], DataType::Int64)
            .unwrap_err();
        assert!(e.contains("is not a valid WebAssembly module"), "{e}");
        std::fs::write(
            dir.path().join("imp.wat"),
            r#"(module (import "env" "now" (func (result i64))) (func (export "f") (result i64) call 0))"#,
        )
        .unwrap();
        let e = WasmFunction::load("f", &dir.path().join("imp.wat"), "f", &[], DataType::Int64)
            .unwrap_err();
        assert!(e.contains("imports `env::now`"), "{e}");
    }
}
