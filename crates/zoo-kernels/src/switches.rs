//! The environment switches of this crate, read once per process: `ZOO_KERNELS` (all of our
//! kernels), `ZOO_WINOGRAD`, `ZOO_FUSED_ADAM` (on unless `off`) and `ZOO_DIRECT` (`auto` unless
//! `on` or `off`: the CPU's instructions decide). They live apart from the kernels that read them so that
//! `extension.rs` and the convolution paths depend on this module, not on each other.

use std::sync::OnceLock;

/// `ZOO_KERNELS=off`: Burn's own kernels everywhere (to compare, or to rule ours out).
pub(crate) fn kernels() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| env_switch("ZOO_KERNELS"))
}

/// `ZOO_FUSED_ADAM=off`: Burn's optimizer steps Adam instead of our one-pass update.
pub(crate) fn fused_adam() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| env_switch("ZOO_FUSED_ADAM"))
}

/// `ZOO_WINOGRAD=off`: 3 × 3 convolutions through im2col instead of Winograd's F(2×2, 3×3).
pub(crate) fn winograd() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| env_switch("ZOO_WINOGRAD"))
}

/// `ZOO_DIRECT`: `Some(on)` where set to a switch value, `None` (unset or `auto`) where the
/// CPU's default decides (`conv2d::direct`).
pub(crate) fn direct() -> Option<bool> {
    static CHOICE: OnceLock<Option<bool>> = OnceLock::new();
    *CHOICE.get_or_init(|| env_choice("ZOO_DIRECT"))
}

/// The environment switch `name`: unset or `on`/`1`/`true` is on, `off`/`0`/`false` off; any
/// other value prints a warning and counts as on.
fn env_switch(name: &str) -> bool {
    match std::env::var(name) {
        Err(_) => true,
        Ok(value) => parse_switch(name, &value).unwrap_or_else(|message| {
            eprintln!("warning: {message}; taking it as on");
            true
        }),
    }
}

/// A switch with a default chosen by the code: unset or `auto` is `None`, otherwise the value
/// as [`env_switch`] reads it (a bad value warns and counts as `auto`).
fn env_choice(name: &str) -> Option<bool> {
    let value = std::env::var(name).ok()?;
    parse_choice(name, &value).unwrap_or_else(|message| {
        eprintln!("warning: {message}; taking it as auto");
        None
    })
}

/// A choice's value: `auto` (`None`) or a switch's ([`parse_switch`]).
fn parse_choice(name: &str, value: &str) -> Result<Option<bool>, String> {
    if value.trim().eq_ignore_ascii_case("auto") {
        return Ok(None);
    }
    parse_switch(name, value)
        .map(Some)
        .map_err(|message| format!("{message}, auto"))
}

/// A switch's value: `on`/`1`/`true` or `off`/`0`/`false`.
fn parse_switch(name: &str, value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "1" | "true" => Ok(true),
        "off" | "0" | "false" => Ok(false),
        _ => Err(format!(
            "{name}={value:?} is not one of on, off, 1, 0, true, false"
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn switch_values() {
        assert_eq!(super::parse_switch("ZOO_KERNELS", "off"), Ok(false));
        assert_eq!(super::parse_switch("ZOO_KERNELS", " ON "), Ok(true));
        assert_eq!(super::parse_switch("ZOO_KERNELS", "0"), Ok(false));
        let err = super::parse_switch("ZOO_KERNELS", "fast").unwrap_err();
        assert!(
            err.contains("ZOO_KERNELS=\"fast\"") && err.contains("on, off"),
            "{err}"
        );
        assert_eq!(super::parse_choice("ZOO_DIRECT", " Auto"), Ok(None));
        assert_eq!(super::parse_choice("ZOO_DIRECT", "on"), Ok(Some(true)));
        assert_eq!(super::parse_choice("ZOO_DIRECT", "false"), Ok(Some(false)));
        let err = super::parse_choice("ZOO_DIRECT", "avx").unwrap_err();
        assert!(
            err.contains("ZOO_DIRECT=\"avx\"") && err.ends_with("false, auto"),
            "{err}"
        );
    }
}
