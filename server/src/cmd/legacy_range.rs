//! The legacy (first, last, step) key triple that `COMMAND INFO` prints, and whether a command's
//! keys are movable, derived from its key specs as Redis derives them. Shared by `build.rs` (the
//! built-in table, from the command JSON) and `module_host` (module commands, at load): both
//! describe each key spec as a [`Plain`].

/// One key spec as the derivation sees it: its (index, lastkey, step) when it is plain (a fixed
/// index and a range), and whether it is marked incomplete.
pub struct Plain {
    pub range: Option<(i64, i64, i64)>,
    pub incomplete: bool,
}

/// A single plain spec is used as it is; otherwise the plain, step-1, adjacent specs are merged,
/// and any spec left out, or marked incomplete, makes the keys movable.
pub fn legacy_range(specs: &[Plain]) -> (i64, i64, i64, bool) {
    match specs {
        [] => return (0, 0, 0, false),
        [only] => {
            if let Some((pos, lastkey, step)) = only.range {
                let last = if lastkey < 0 { lastkey } else { pos + lastkey };
                return (pos, last, step, only.incomplete);
            }
        }
        _ => {}
    }
    let (mut movable, mut first, mut last, mut prev_last) = (false, None::<i64>, 0i64, 0i64);
    for ks in specs {
        let Some((pos, lastkey, step)) = ks.range else {
            movable = true;
            continue;
        };
        if step != 1 || (prev_last != 0 && prev_last != pos - 1) {
            movable = true;
            continue;
        }
        movable |= ks.incomplete;
        first = Some(first.map_or(pos, |f| f.min(pos)));
        let abs_last = if lastkey < 0 { lastkey } else { lastkey + pos };
        // Compared as unsigned 32-bit numbers: an open-ended (negative) last key wins.
        if (abs_last as u32) > (last as u32) {
            last = abs_last;
        }
        prev_last = last;
    }
    match first {
        None => (0, 0, 0, true),
        Some(f) => (f, last, 1, movable),
    }
}
