//! The emulator's `--inference-component` argument.

use std::str::FromStr;

use tower_sagemaker::emulator::{ComponentSpec, Emulator};
use tower_sagemaker::sagemaker::is_valid_endpoint_name;

use crate::cli::parse_duration;

/// The grammar, for messages.
const GRAMMAR: &str = "[ENDPOINT/]NAME[=COPIES[:SCALE_OUT[:IDLE]]]";

/// A `--inference-component [ENDPOINT/]NAME[=COPIES[:SCALE_OUT[:IDLE]]]`
/// argument, e.g. `llm=0:4m:15m` or `ics/llm=1`.
///
/// COPIES is a whole number (default 0: scaled to zero); SCALE_OUT and IDLE
/// use [`parse_duration`] (defaults: [`ComponentSpec::new`]'s, 4 min and
/// 15 min); ENDPOINT defaults to the emulator's first endpoint. The name
/// must be one the service accepts, as the library checks it.
#[derive(Debug, Clone)]
pub struct ComponentArg {
    /// The component's name.
    pub name: String,
    /// Its copies, times and endpoint.
    pub spec: ComponentSpec,
}

impl FromStr for ComponentArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (endpoint, rest) = match s.split_once('/') {
            Some((endpoint, rest)) => (Some(endpoint), rest),
            None => (None, s),
        };
        let (name, settings) = match rest.split_once('=') {
            Some((name, settings)) => (name, Some(settings)),
            None => (rest, None),
        };
        let mut spec = ComponentSpec::new();
        if let Some(endpoint) = endpoint {
            if !is_valid_endpoint_name(endpoint) {
                return Err(format!(
                    "invalid endpoint name {endpoint:?} in '{s}': 1 to 63 letters and digits, with hyphens between them (expected {GRAMMAR})"
                ));
            }
            spec = spec.endpoint(endpoint);
        }
        if let Some(settings) = settings {
            let mut fields = settings.split(':');
            let copies = fields.next().unwrap_or_default();
            spec = spec.copies(copies.parse().map_err(|_| {
                format!("inference component '{name}': invalid copies '{copies}': expected a whole number such as 0 or 1 ({GRAMMAR})")
            })?);
            let mut duration = |what: &str| match fields.next() {
                Some(d) => parse_duration(d)
                    .map(Some)
                    .map_err(|e| format!("inference component '{name}': {what}: {e}")),
                None => Ok(None),
            };
            if let Some(time) = duration("scale-out time")? {
                spec = spec.scale_out_time(time);
            }
            if let Some(time) = duration("idle time")? {
                spec = spec.idle_time(time);
            }
            if fields.next().is_some() {
                return Err(format!(
                    "invalid inference component '{s}': too many ':' fields (expected {GRAMMAR}, e.g. llm=0:4m:15m)"
                ));
            }
        }
        // The library's own check, and its message.
        Emulator::builder()
            .inference_component(name, spec.clone())
            .map_err(|e| e.to_string())?;
        Ok(Self {
            name: name.to_owned(),
            spec,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn component_args() {
        let a: ComponentArg = "llm".parse().unwrap();
        assert_eq!(a.name, "llm");
        assert_eq!(a.spec, ComponentSpec::new());
        let a: ComponentArg = "ics/llm-2=1:300ms:2m".parse().unwrap();
        assert_eq!(a.name, "llm-2");
        assert_eq!(a.spec.get_endpoint(), Some("ics"));
        assert_eq!(a.spec.get_copies(), 1);
        assert_eq!(a.spec.get_scale_out_time(), Duration::from_millis(300));
        assert_eq!(a.spec.get_idle_time(), Duration::from_secs(120));
        let a: ComponentArg = "llm=0:5s".parse().unwrap();
        assert_eq!(a.spec.get_idle_time(), ComponentSpec::DEFAULT_IDLE_TIME);
        for (bad, says) in [
            ("bad_name", "invalid inference component name \"bad_name\""),
            ("", "invalid inference component name \"\""),
            (&"x".repeat(64), "1 to 63"),
            ("-llm=0", "invalid inference component name"),
            ("bad_endpoint/llm", "invalid endpoint name"),
            ("llm=many", "invalid copies 'many'"),
            ("llm=-1", "invalid copies '-1'"),
            ("llm=0:soon", "scale-out time: invalid duration"),
            ("llm=0:1s:later", "idle time: invalid duration"),
            ("llm=0:1s:1s:1s", "too many ':' fields"),
        ] {
            let e = bad.parse::<ComponentArg>().unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
            assert!(!e.contains('\n'), "{bad}: {e}");
        }
    }
}
