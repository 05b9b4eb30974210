//! Key lookup shared by `LabelEncoder` and `OneHotEncoder`: a list of keys of one type
//! (string, int64, float, double), hashed once at load; each input element maps to its
//! key's position, or to nothing.

use std::collections::HashMap;

use tract_onnx::tract_hir::internal::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keys {
    Str(HashMap<String, usize>),
    I64(HashMap<i64, usize>),
    /// f32 keys by bit pattern (after folding -0 into +0); NaN keys match NaN inputs
    /// only when `nan_matches` (LabelEncoder opset 4, as onnxruntime does).
    F32 {
        map: HashMap<u32, usize>,
        nan_matches: bool,
    },
    F64 {
        map: HashMap<u64, usize>,
        nan_matches: bool,
    },
}

fn index<K: std::hash::Hash + Eq>(keys: impl IntoIterator<Item = K>) -> HashMap<K, usize> {
    let mut map = HashMap::new();
    for (i, k) in keys.into_iter().enumerate() {
        // The first occurrence wins, like onnxruntime's LabelEncoder (OneHotEncoder calls
        // `last_wins`).
        map.entry(k).or_insert(i);
    }
    map
}

fn bits32(x: f32) -> u32 {
    if x.is_nan() {
        f32::NAN.to_bits()
    } else {
        (x + 0.0).to_bits()
    }
}

fn bits64(x: f64) -> u64 {
    if x.is_nan() {
        f64::NAN.to_bits()
    } else {
        (x + 0.0).to_bits()
    }
}

impl Keys {
    pub fn strings(keys: &[String]) -> Keys {
        Keys::Str(index(keys.iter().cloned()))
    }

    pub fn ints(keys: &[i64]) -> Keys {
        Keys::I64(index(keys.iter().copied()))
    }

    pub fn floats(keys: &[f32], nan_matches: bool) -> Keys {
        Keys::F32 {
            map: index(keys.iter().map(|&k| bits32(k))),
            nan_matches,
        }
    }

    pub fn doubles(keys: &[f64], nan_matches: bool) -> Keys {
        Keys::F64 {
            map: index(keys.iter().map(|&k| bits64(k))),
            nan_matches,
        }
    }

    /// The same keys, a repeated key now mapping to its last position: onnxruntime's
    /// OneHotEncoder overwrites its category map where its LabelEncoder keeps the first.
    pub fn last_wins<K: std::hash::Hash + Eq + Clone>(keys: &[K]) -> HashMap<K, usize> {
        keys.iter()
            .cloned()
            .enumerate()
            .map(|(i, k)| (k, i))
            .collect()
    }

    /// Keys from a rank-1 tensor (LabelEncoder's `keys_tensor`).
    pub fn from_tensor(t: &Tensor, nan_matches: bool) -> TractResult<Keys> {
        let view = t.try_as_plain_ram()?;
        Ok(match t.datum_type() {
            DatumType::String => Keys::strings(view.as_slice::<String>()?),
            DatumType::I64 => Keys::ints(view.as_slice::<i64>()?),
            DatumType::F32 => Keys::floats(view.as_slice::<f32>()?, nan_matches),
            DatumType::F64 => Keys::doubles(view.as_slice::<f64>()?, nan_matches),
            dt => bail!("keys of type {dt:?} are not supported (string, int64, float, double)"),
        })
    }

    pub fn datum_type(&self) -> DatumType {
        match self {
            Keys::Str(_) => DatumType::String,
            Keys::I64(_) => DatumType::I64,
            Keys::F32 { .. } => DatumType::F32,
            Keys::F64 { .. } => DatumType::F64,
        }
    }

    /// The position of each element of `x` among the keys. `x` must have the keys' type:
    /// a mismatch is an error (checked at load too), never a panic.
    pub fn lookup(&self, x: &Tensor) -> TractResult<Vec<Option<usize>>> {
        ensure!(
            x.datum_type() == self.datum_type(),
            "input of type {:?} for keys of type {:?}",
            x.datum_type(),
            self.datum_type()
        );
        let view = x.try_as_plain_ram()?;
        Ok(match self {
            Keys::Str(m) => view
                .as_slice::<String>()?
                .iter()
                .map(|k| m.get(k).copied())
                .collect(),
            Keys::I64(m) => view
                .as_slice::<i64>()?
                .iter()
                .map(|k| m.get(k).copied())
                .collect(),
            Keys::F32 { map, nan_matches } => view
                .as_slice::<f32>()?
                .iter()
                .map(|&k| {
                    if k.is_nan() && !nan_matches {
                        None
                    } else {
                        map.get(&bits32(k)).copied()
                    }
                })
                .collect(),
            Keys::F64 { map, nan_matches } => view
                .as_slice::<f64>()?
                .iter()
                .map(|&k| {
                    if k.is_nan() && !nan_matches {
                        None
                    } else {
                        map.get(&bits64(k)).copied()
                    }
                })
                .collect(),
        })
    }
}
