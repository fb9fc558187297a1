//! The `mask` step: hash, encrypt, decrypt, redact or truncate columns.
//!
//! * `hash`: HMAC-SHA256 of the value's text (the UTF-8 of a string, the
//!   bytes of a BYTES value, the SQL text of anything else, e.g. `42`,
//!   `2024-01-01T00:00:00Z`), as 64 lower-case hex characters. The column
//!   name is not mixed in, so the same value hashes alike in every column
//!   and job keyed by the same secret: joins on hashed keys still work.
//! * `encrypt`: AES-256-GCM, written as base64 of `nonce ‖ ciphertext ‖ tag`.
//!   The nonce is an HMAC of the plaintext (a synthetic IV), so encryption
//!   is deterministic: the same value gives the same text in a backfill and
//!   a live run, and equal values stay equal (which is all it reveals; GCM
//!   nonces never repeat for different plaintexts).
//! * `decrypt`: the inverse, to VARCHAR; text that does not decrypt under
//!   the key (tampered, another key, not base64) gives NULL.
//! * `redact`: NULL, keeping the column's type.
//! * `truncate: N`: the first N characters (code points) of a VARCHAR.
//!
//! One secret (`key: ${ENV}`) keys everything; separate keys for hashing,
//! encryption and nonces are derived from it with HKDF-SHA256.

use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit as _};
use aes_gcm::{Aes256Gcm, Nonce};
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray, new_null_array};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType as ArrowType, SchemaRef};
use arrow::util::display::FormatOptions;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use quiver_spec::MaskAction;
use sha2::Sha256;

/// The shortest secret accepted (bytes).
pub const MIN_KEY_BYTES: usize = 16;

/// Keys derived from the job's secret, kept as ready-to-use states: the
/// HMAC key blocks and the AES key schedule are computed once, not per value.
#[derive(Clone)]
pub struct MaskKeys {
    hash: Hmac<Sha256>,
    nonce: Hmac<Sha256>,
    cipher: Aes256Gcm,
}

impl MaskKeys {
    /// Derives the keys from a secret of at least [`MIN_KEY_BYTES`] bytes.
    pub fn derive(secret: &[u8]) -> MaskKeys {
        let hk = Hkdf::<Sha256>::new(None, secret);
        let expand = |info: &[u8]| {
            let mut k = [0u8; 32];
            // Expanding 32 bytes from SHA-256 HKDF cannot fail (the limit is 8160).
            let _ = hk.expand(info, &mut k);
            k
        };
        // HMAC takes keys of any length and AES-256 takes 32 bytes: neither fails.
        let hmac = |k: [u8; 32]| {
            <Hmac<Sha256> as KeyInit>::new_from_slice(&k).expect("HMAC accepts any key")
        };
        MaskKeys {
            hash: hmac(expand(b"quiver mask hash v1")),
            nonce: hmac(expand(b"quiver mask nonce v1")),
            cipher: Aes256Gcm::new_from_slice(&expand(b"quiver mask aes-256-gcm v1"))
                .expect("a 32-byte AES-256 key"),
        }
    }

    fn mac(key: &Hmac<Sha256>, data: &[u8]) -> [u8; 32] {
        let mut m = key.clone();
        m.update(data);
        m.finalize().into_bytes().into()
    }

    /// HMAC-SHA256 of `data`, as hex.
    pub fn hash(&self, data: &[u8]) -> String {
        hex::encode(Self::mac(&self.hash, data))
    }

    /// `data` encrypted, as base64 of nonce, ciphertext and tag.
    pub fn encrypt(&self, data: &[u8]) -> String {
        let nonce_bytes = Self::mac(&self.nonce, data);
        let nonce = Nonce::from_slice(&nonce_bytes[..12]);
        // Encryption only fails for inputs beyond GCM's 64 GiB limit.
        let sealed = self
            .cipher
            .encrypt(nonce, data)
            .expect("values are far below AES-GCM's size limit");
        let mut out = nonce_bytes[..12].to_vec();
        out.extend_from_slice(&sealed);
        BASE64.encode(out)
    }

    /// The plaintext of [`encrypt`](Self::encrypt)'s output, or `None`.
    pub fn decrypt(&self, text: &str) -> Option<Vec<u8>> {
        let raw = BASE64.decode(text.trim()).ok()?;
        if raw.len() < 12 + 16 {
            return None;
        }
        let (nonce, sealed) = raw.split_at(12);
        self.cipher.decrypt(Nonce::from_slice(nonce), sealed).ok()
    }
}

/// One column's masking, resolved against the schema.
#[derive(Debug, Clone, Copy)]
pub struct ColumnMask {
    /// Column index in the batch.
    pub index: usize,
    /// What to do.
    pub action: MaskAction,
}

/// A planned `mask` step.
#[derive(Clone)]
pub struct MaskStep {
    /// Keys, when an action needs them.
    pub keys: Option<Arc<MaskKeys>>,
    /// The columns.
    pub columns: Vec<ColumnMask>,
    /// The schema of the step's output (with `__time`).
    pub output: SchemaRef,
}

impl MaskStep {
    /// Masks the columns of `batch`.
    pub fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch, String> {
        let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
        for c in &self.columns {
            cols[c.index] = self.mask_column(&cols[c.index], c.action)?;
        }
        RecordBatch::try_new(self.output.clone(), cols).map_err(|e| format!("mask: {e}"))
    }

    fn mask_column(&self, col: &ArrayRef, action: MaskAction) -> Result<ArrayRef, String> {
        let keys = || {
            self.keys
                .as_deref()
                .ok_or_else(|| "mask: no key for hashing or encryption".to_string())
        };
        Ok(match action {
            MaskAction::Redact => new_null_array(col.data_type(), col.len()),
            MaskAction::Truncate(n) => {
                let s = col.as_string::<i32>();
                Arc::new(
                    s.iter()
                        .map(|v| v.map(|v| truncate_chars(v, n)))
                        .collect::<StringArray>(),
                )
            }
            MaskAction::Hash => {
                let k = keys()?;
                map_bytes(col, |b| k.hash(b))?
            }
            MaskAction::Encrypt => {
                let k = keys()?;
                map_bytes(col, |b| k.encrypt(b))?
            }
            MaskAction::Decrypt => {
                let k = keys()?;
                let s = col.as_string::<i32>();
                Arc::new(
                    s.iter()
                        .map(|v| {
                            v.and_then(|v| k.decrypt(v))
                                .and_then(|p| String::from_utf8(p).ok())
                        })
                        .collect::<StringArray>(),
                )
            }
        })
    }
}

/// The first `n` characters of `s`.
fn truncate_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

/// Applies `f` to each non-null value's bytes (see the module docs for
/// what the bytes of a non-string value are), giving VARCHAR.
fn map_bytes(col: &ArrayRef, f: impl Fn(&[u8]) -> String) -> Result<ArrayRef, String> {
    let out: StringArray = match col.data_type() {
        ArrowType::Utf8 => col
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(|v| f(v.as_bytes())))
            .collect(),
        ArrowType::Binary => col.as_binary::<i32>().iter().map(|v| v.map(&f)).collect(),
        _ => {
            // The SQL text of numbers, booleans, dates and timestamps
            // (RFC 3339, UTC).
            let opts = CastOptions {
                safe: false,
                format_options: FormatOptions::default()
                    .with_timestamp_tz_format(Some("%Y-%m-%dT%H:%M:%S%.fZ")),
            };
            let text = cast_with_options(col, &ArrowType::Utf8, &opts)
                .map_err(|e| format!("mask: cannot read {} as text: {e}", col.data_type()))?;
            text.as_string::<i32>()
                .iter()
                .map(|v| v.map(|v| f(v.as_bytes())))
                .collect()
        }
    };
    Ok(Arc::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    fn keys() -> MaskKeys {
        MaskKeys::derive(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn hashing_is_keyed_and_stable() {
        let k = keys();
        let a = k.hash(b"alice@example.com");
        assert_eq!(a.len(), 64);
        assert_eq!(a, keys().hash(b"alice@example.com"));
        assert_ne!(a, k.hash(b"bob@example.com"));
        let other = MaskKeys::derive(b"another secret, also long enough");
        assert_ne!(a, other.hash(b"alice@example.com"));
        // Known answer, computed independently with Python's hmac/hashlib:
        //   prk = hmac(b"\0" * 32, secret, sha256)            # HKDF extract
        //   key = hmac(prk, b"quiver mask hash v1\x01", sha256) # HKDF expand
        //   hmac(key, b"alice@example.com", sha256).hexdigest()
        assert_eq!(
            a,
            "6423a7873066fc66c4cc05acadf08da6d169dfdec03ec075215e05dd25f529d9"
        );
    }

    #[test]
    fn encryption_round_trips_and_is_deterministic() {
        let k = keys();
        let c = k.encrypt(b"4111 1111 1111 1111");
        assert_eq!(c, k.encrypt(b"4111 1111 1111 1111"));
        assert_ne!(c, k.encrypt(b"4111 1111 1111 1112"));
        assert_eq!(k.decrypt(&c).unwrap(), b"4111 1111 1111 1111");
        // Tampering, another key, or garbage give None.
        let mut raw = BASE64.decode(&c).unwrap();
        raw[14] ^= 1;
        assert!(k.decrypt(&BASE64.encode(raw)).is_none());
        assert!(
            MaskKeys::derive(b"another secret, also long enough")
                .decrypt(&c)
                .is_none()
        );
        assert!(k.decrypt("not base64!").is_none());
        assert!(k.decrypt("").is_none());
    }

    #[test]
    fn step_masks_each_column_and_keeps_nulls() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("email", ArrowType::Utf8, true),
            Field::new("id", ArrowType::Int64, true),
            Field::new("phone", ArrowType::Utf8, true),
            Field::new("name", ArrowType::Utf8, true),
            Field::new("__time", ArrowType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![Some("a@x.io"), None])),
                Arc::new(Int64Array::from(vec![Some(42), Some(7)])),
                Arc::new(StringArray::from(vec![Some("+44 20 7946"), Some("ñañañ")])),
                Arc::new(StringArray::from(vec![Some("Ann"), Some("Bo")])),
                Arc::new(Int64Array::from(vec![1, 2])),
            ],
        )
        .unwrap();
        let out_schema = Arc::new(Schema::new(vec![
            Field::new("email", ArrowType::Utf8, true),
            Field::new("id", ArrowType::Utf8, true),
            Field::new("phone", ArrowType::Utf8, true),
            Field::new("name", ArrowType::Utf8, true),
            Field::new("__time", ArrowType::Int64, false),
        ]));
        let step = MaskStep {
            keys: Some(Arc::new(keys())),
            columns: vec![
                ColumnMask {
                    index: 0,
                    action: MaskAction::Hash,
                },
                ColumnMask {
                    index: 1,
                    action: MaskAction::Encrypt,
                },
                ColumnMask {
                    index: 2,
                    action: MaskAction::Truncate(3),
                },
                ColumnMask {
                    index: 3,
                    action: MaskAction::Redact,
                },
            ],
            output: out_schema,
        };
        let out = step.apply(&batch).unwrap();
        let email = out.column(0).as_string::<i32>();
        assert_eq!(email.value(0), keys().hash(b"a@x.io"));
        assert!(email.is_null(1));
        let id = out.column(1).as_string::<i32>();
        assert_eq!(keys().decrypt(id.value(0)).unwrap(), b"42");
        let phone = out.column(2).as_string::<i32>();
        assert_eq!(phone.value(0), "+44");
        assert_eq!(phone.value(1), "ñañ");
        assert_eq!(out.column(3).null_count(), 2);
        // Decrypting gives the text back.
        let back = MaskStep {
            keys: Some(Arc::new(keys())),
            columns: vec![ColumnMask {
                index: 1,
                action: MaskAction::Decrypt,
            }],
            output: out.schema(),
        }
        .apply(&out)
        .unwrap();
        assert_eq!(back.column(1).as_string::<i32>().value(0), "42");
    }
}
