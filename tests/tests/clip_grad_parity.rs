//! Replays torch's gradient clipping references: every `*.json` in `$OPTIM_FIXTURES/clip_grad`
//! (default: the shared fixture tree). Each file is one call of `clip_grad_norm_` or
//! `clip_grad_value_` on a list of gradients; the replay makes the same call and compares
//! the returned norm and every clipped gradient. A file it cannot interpret is a failure.

use optim_tests::fixture::{fixture_files, fixtures_dir};
use optimizers::clip::{clip_grad_norm, clip_grad_value};
use optimizers::ndarray::{ArrayD, IxDyn};
use optimizers::{DType, Float, Param};
use serde_json::{Map as Object, Value as Json};

/// A float as the files write it: a number, or `"inf"`, `"-inf"`, `"nan"`.
fn number(v: &Json, at: &str) -> Result<f64, String> {
    match v {
        Json::Number(n) => n.as_f64().ok_or_else(|| format!("{at}: {n} is not a float")),
        Json::String(s) if s == "inf" => Ok(f64::INFINITY),
        Json::String(s) if s == "-inf" => Ok(f64::NEG_INFINITY),
        Json::String(s) if s == "nan" => Ok(f64::NAN),
        other => Err(format!("{at}: expected a number, found {other}")),
    }
}

/// Takes `key` out of `o` (so that what is left at the end is reported as unknown).
fn take(o: &mut Object<String, Json>, key: &str, at: &str) -> Result<Json, String> {
    o.remove(key).ok_or_else(|| format!("{at}: no `{key}`"))
}

fn finish(o: Object<String, Json>, at: &str) -> Result<(), String> {
    match o.keys().next() {
        Some(k) => Err(format!("{at}: unknown field `{k}`")),
        None => Ok(()),
    }
}

/// A gradient: its shape and values (as f64; exact f32 values in float32 files).
type Grad = Option<(Vec<usize>, Vec<f64>)>;

fn read_grads(v: Json, at: &str) -> Result<Vec<Grad>, String> {
    let Json::Array(items) = v else {
        return Err(format!("{at}: a list of gradients"));
    };
    items
        .into_iter()
        .map(|g| match g {
            Json::Null => Ok(None),
            Json::Object(mut o) => {
                let shape = take(&mut o, "shape", at)?;
                let data = take(&mut o, "data", at)?;
                finish(o, at)?;
                let shape: Vec<usize> = serde_json::from_value(shape).map_err(|e| format!("{at}: shape: {e}"))?;
                let Json::Array(data) = data else {
                    return Err(format!("{at}: data is a list"));
                };
                let data = data.iter().map(|x| number(x, at)).collect::<Result<Vec<_>, _>>()?;
                if shape.iter().product::<usize>() != data.len() {
                    return Err(format!("{at}: shape {shape:?} with {} values", data.len()));
                }
                Ok(Some((shape, data)))
            }
            other => Err(format!("{at}: a gradient is an object or null, found {other}")),
        })
        .collect()
}

enum Call {
    Norm {
        max_norm: f64,
        norm_type: f64,
        error_if_nonfinite: bool,
    },
    Value {
        clip_value: f64,
    },
}

struct Case {
    dtype: DType,
    grads: Vec<Grad>,
    call: Call,
    total_norm: Option<f64>,
    clipped: Vec<Grad>,
    /// torch's message when the call is made with `error_if_nonfinite=True`.
    raises: Option<String>,
}

fn load(path: &std::path::Path) -> Result<Case, String> {
    let at = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{at}: {e}"))?;
    let Json::Object(mut o) = serde_json::from_str(&text).map_err(|e| format!("{at}: {e}"))? else {
        return Err(format!("{at}: not an object"));
    };
    if take(&mut o, "schema", &at)? != 1 {
        return Err(format!("{at}: unknown schema"));
    }
    take(&mut o, "name", &at)?;
    take(&mut o, "source", &at)?;
    let dtype = match take(&mut o, "dtype", &at)?.as_str().and_then(DType::from_name) {
        Some(d) => d,
        None => return Err(format!("{at}: unknown dtype")),
    };
    let grads = read_grads(take(&mut o, "grads", &at)?, &at)?;
    let Json::Object(mut c) = take(&mut o, "call", &at)? else {
        return Err(format!("{at}: `call` is an object"));
    };
    let call = match take(&mut c, "fn", &at)?.as_str() {
        Some("clip_grad_norm_") => Call::Norm {
            max_norm: number(&take(&mut c, "max_norm", &at)?, &at)?,
            norm_type: number(&take(&mut c, "norm_type", &at)?, &at)?,
            error_if_nonfinite: take(&mut c, "error_if_nonfinite", &at)?
                .as_bool()
                .ok_or_else(|| format!("{at}: error_if_nonfinite is a boolean"))?,
        },
        Some("clip_grad_value_") => Call::Value {
            clip_value: number(&take(&mut c, "clip_value", &at)?, &at)?,
        },
        other => return Err(format!("{at}: unknown function {other:?}")),
    };
    finish(c, &at)?;
    let total_norm = o.remove("total_norm").map(|t| number(&t, &at)).transpose()?;
    let clipped = read_grads(take(&mut o, "clipped", &at)?, &at)?;
    let raises = o
        .remove("error_if_nonfinite")
        .map(|m| {
            m.as_str()
                .map(String::from)
                .ok_or_else(|| format!("{at}: error_if_nonfinite is a message"))
        })
        .transpose()?;
    finish(o, &at)?;
    if clipped.len() != grads.len() {
        return Err(format!("{at}: {} clipped gradients for {}", clipped.len(), grads.len()));
    }
    if matches!(call, Call::Norm { .. }) != total_norm.is_some() {
        return Err(format!("{at}: `total_norm` goes with clip_grad_norm_ and only with it"));
    }
    Ok(Case {
        dtype,
        grads,
        call,
        total_norm,
        clipped,
        raises,
    })
}

/// `|a − e| <= atol + rtol·|e|`, with NaN equal to NaN and infinities equal to themselves.
fn close(a: f64, e: f64, dtype: DType) -> bool {
    let (rtol, atol) = match dtype {
        DType::F64 => (1e-12, 1e-15),
        DType::F32 => (1e-5, 1e-7),
    };
    if a.is_nan() || e.is_nan() {
        return a.is_nan() && e.is_nan();
    }
    if a.is_infinite() || e.is_infinite() {
        return a == e;
    }
    (a - e).abs() <= atol + rtol * e.abs()
}

fn params<A: Float>(case: &Case) -> Vec<Param<A>> {
    case.grads
        .iter()
        .map(|g| match g {
            Some((shape, data)) => {
                let p = Param::new(ArrayD::<A>::zeros(IxDyn(shape)));
                let values: Vec<A> = data.iter().map(|&x| A::from_f64(x)).collect();
                p.set_grad_from_slice(&values).expect("the shape was checked");
                p
            }
            // A parameter without a gradient: its value plays no role.
            None => Param::new(ArrayD::<A>::zeros(IxDyn(&[1]))),
        })
        .collect()
}

fn grads_of<A: Float>(ps: &[Param<A>]) -> Vec<Option<Vec<f64>>> {
    ps.iter()
        .map(|p| p.grad_array().map(|g| g.iter().map(|x| x.as_f64()).collect()))
        .collect()
}

fn replay<A: Float>(case: &Case) -> Result<Vec<String>, String> {
    let mut mismatches = Vec::new();
    if let (
        Some(message),
        Call::Norm {
            max_norm, norm_type, ..
        },
    ) = (&case.raises, &case.call)
    {
        let ps = params::<A>(case);
        let before = grads_of(&ps);
        match clip_grad_norm(ps.iter(), *max_norm, *norm_type, true) {
            Ok(_) => mismatches.push(format!(
                "error_if_nonfinite: torch raises ({message}), this returned Ok"
            )),
            Err(e) if e.kind() != optimizers::ErrorKind::NonFiniteNorm => {
                mismatches.push(format!("error_if_nonfinite: {e} is not a non-finite norm error"))
            }
            Err(_) => {}
        }
        if grads_of(&ps) != before {
            mismatches.push("error_if_nonfinite: the gradients changed".into());
        }
    }
    let ps = params::<A>(case);
    match &case.call {
        Call::Norm {
            max_norm,
            norm_type,
            error_if_nonfinite,
        } => {
            let total = clip_grad_norm(ps.iter(), *max_norm, *norm_type, *error_if_nonfinite)
                .map_err(|e| format!("clip_grad_norm: {e}"))?;
            let expected = case.total_norm.expect("checked on load");
            if !close(total.as_f64(), expected, case.dtype) {
                mismatches.push(format!("total norm {} vs torch {expected}", total.as_f64()));
            }
        }
        Call::Value { clip_value } => {
            clip_grad_value(ps.iter(), *clip_value).map_err(|e| format!("clip_grad_value: {e}"))?;
        }
    }
    for (i, (ours, torch)) in grads_of(&ps).iter().zip(&case.clipped).enumerate() {
        match (ours, torch) {
            (None, None) => {}
            (Some(a), Some((_, e))) => {
                for (k, (&a, &e)) in a.iter().zip(e).enumerate() {
                    if !close(a, e, case.dtype) {
                        mismatches.push(format!("gradient {i}[{k}]: {a:e} vs torch {e:e}"));
                    }
                }
            }
            _ => mismatches.push(format!("gradient {i}: present on one side only")),
        }
    }
    Ok(mismatches)
}

fn main() {
    let dir = fixtures_dir().join("clip_grad");
    let files = match fixture_files(&dir) {
        Ok(files) if !files.is_empty() => files,
        Ok(_) => {
            eprintln!("no clip_grad cases in {}", dir.display());
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let mut failed = 0;
    for path in &files {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let outcome = load(path).and_then(|case| match case.dtype {
            DType::F32 => replay::<f32>(&case),
            DType::F64 => replay::<f64>(&case),
        });
        match outcome {
            Ok(m) if m.is_empty() => println!("ok   {name}"),
            Ok(m) => {
                failed += 1;
                println!("FAIL {name}: {} mismatch(es)", m.len());
                for line in m.iter().take(8) {
                    println!("    {line}");
                }
            }
            Err(e) => {
                failed += 1;
                println!("FAIL {name}: cannot replay: {e}");
            }
        }
    }
    println!("replayed {} clip_grad cases", files.len() - failed);
    if failed > 0 {
        std::process::exit(1);
    }
}
