//! Keys for encrypted pushes (general-glo-ciphering, as Danish and Swiss meters send), for the
//! app and `decode`. They come as a pair from the first place that has any:
//!
//! 1. `--key HEX` / `--auth-key HEX` (visible to every user in `ps`: for tests, not for site work)
//! 2. `--key-file FILE`
//! 3. the environment: `KAMSCOPE_KEY` / `KAMSCOPE_AUTH_KEY`
//! 4. the config's `[keys]` section (`encryption`, `authentication`)
//!
//! A key file holds the encryption key and, if the meter authenticates its pushes, the
//! authentication key, either as two lines of 32 hex digits (in that order) or named:
//!
//! ```text
//! # kamscope keys for meter 5706567000000042
//! key = 00112233445566778899AABBCCDDEEFF
//! auth_key = FFEEDDCCBBAA99887766554433221100
//! ```
//!
//! (`encryption` and `authentication` are accepted as names too, values may be quoted, so the
//! config's `[keys]` lines work as they are). Blank lines and `#` comments are ignored. A file that
//! other users can read is refused, as ssh refuses such a private key: `chmod 600 FILE`.
//!
//! No key ever appears in a message, the log, a recording or an export.

use super::UserError;
use kamscope::config::KeysConfig;
use kamscope::link::io_reason;
use kamscope::protocol::dlms::Keys;
use std::path::{Path, PathBuf};

/// The environment variables that hold the keys.
pub const ENV_KEY: &str = "KAMSCOPE_KEY";
pub const ENV_AUTH_KEY: &str = "KAMSCOPE_AUTH_KEY";

/// A key file is small; anything bigger is not one.
const MAX_KEY_FILE: u64 = 4096;

#[derive(clap::Args, Clone, Default)]
pub struct KeyArgs {
    /// AES-128 encryption key (32 hex digits) for general-glo-ciphering pushes. Other users see
    /// it in `ps`: on site prefer --key-file, KAMSCOPE_KEY or the config's [keys].
    #[arg(long, value_name = "HEX")]
    key: Option<String>,
    /// Authentication key (32 hex digits) for authenticated pushes (with --key).
    #[arg(long, value_name = "HEX")]
    auth_key: Option<String>,
    /// File with the keys: two lines of 32 hex digits (encryption, then authentication), or
    /// `key = ...` and `auth_key = ...`; readable by you only (chmod 600). Without keys on the
    /// command line or in a key file, KAMSCOPE_KEY and KAMSCOPE_AUTH_KEY are used, then the
    /// config's [keys].
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
}

/// Keys as text from one place, before they are checked.
struct KeyText {
    /// Where they came from, for messages: `--key`, `KAMSCOPE_KEY`, `key file k.txt`.
    encryption_name: String,
    authentication_name: String,
    encryption: Option<String>,
    authentication: Option<String>,
}

impl KeyText {
    fn any(&self) -> bool {
        self.encryption.is_some() || self.authentication.is_some()
    }

    fn parse(self) -> Result<Keys, UserError> {
        let Some(encryption) = &self.encryption else {
            return Err(UserError(format!(
                "{} needs {} (the encryption key) too",
                self.authentication_name, self.encryption_name
            )));
        };
        Ok(Keys {
            encryption: parse_key(&self.encryption_name, encryption)?,
            authentication: self
                .authentication
                .as_deref()
                .map(|a| parse_key(&self.authentication_name, a))
                .transpose()?,
        })
    }
}

impl KeyArgs {
    /// The keys from the first place that has any (see the module's list); `config` is asked
    /// only when nothing else names a key. `None`: no keys anywhere.
    pub fn resolve(
        &self,
        env: impl Fn(&str) -> Option<String>,
        config: impl FnOnce() -> Result<KeysConfig, UserError>,
    ) -> Result<Option<Keys>, UserError> {
        let command_line = KeyText {
            encryption_name: "--key".into(),
            authentication_name: "--auth-key".into(),
            encryption: self.key.clone(),
            authentication: self.auth_key.clone(),
        };
        if command_line.any() {
            return command_line.parse().map(Some);
        }
        if let Some(path) = &self.key_file {
            return read_key_file(path)?.parse().map(Some);
        }
        let non_empty = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let environment = KeyText {
            encryption_name: ENV_KEY.into(),
            authentication_name: ENV_AUTH_KEY.into(),
            encryption: non_empty(ENV_KEY),
            authentication: non_empty(ENV_AUTH_KEY),
        };
        if environment.any() {
            return environment.parse().map(Some);
        }
        let config = config()?;
        let from_config = KeyText {
            encryption_name: "[keys] encryption".into(),
            authentication_name: "[keys] authentication".into(),
            encryption: config.encryption,
            authentication: config.authentication,
        };
        if from_config.any() {
            return from_config.parse().map(Some);
        }
        Ok(None)
    }

    /// [`resolve`](Self::resolve) with the process environment.
    pub fn keys(
        &self,
        config: impl FnOnce() -> Result<KeysConfig, UserError>,
    ) -> Result<Option<Keys>, UserError> {
        self.resolve(|name| std::env::var(name).ok(), config)
    }
}

/// 32 hex digits (spaces allowed between them) as a key; the message names where it came
/// from, never what it says.
pub fn parse_key(what: &str, text: &str) -> Result<[u8; 16], UserError> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let bad = || UserError(format!("{what} must be 32 hex digits (16 bytes)"));
    if digits.len() != 32 {
        return Err(bad());
    }
    let mut key = [0u8; 16];
    for (k, pair) in key.iter_mut().zip(digits.chunks(2)) {
        let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
        *k = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
    }
    Ok(key)
}

/// Reads a key file: refused when other users can read it, or when it is not a key file.
fn read_key_file(path: &Path) -> Result<KeyText, UserError> {
    let name = format!("key file {}", path.display());
    let meta = std::fs::metadata(path)
        .map_err(|e| UserError(format!("cannot read {name}: {}", io_reason(&e))))?;
    if meta.is_dir() {
        return Err(UserError(format!("cannot read {name}: it is a directory")));
    }
    if meta.len() > MAX_KEY_FILE {
        return Err(UserError(format!(
            "{name} is not a key file: it is larger than {MAX_KEY_FILE} bytes"
        )));
    }
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o044 != 0 {
            return Err(UserError(format!(
                "{name} can be read by other users: make it yours only (chmod 600 {})",
                path.display()
            )));
        }
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| UserError(format!("cannot read {name}: {}", io_reason(&e))))?;
    parse_key_file(&name, &text)
}

/// The keys of a key file's text (see the module's description of the format).
fn parse_key_file(name: &str, text: &str) -> Result<KeyText, UserError> {
    let mut keys = KeyText {
        encryption_name: format!("{name}: the encryption key"),
        authentication_name: format!("{name}: the authentication key"),
        encryption: None,
        authentication: None,
    };
    let mut bare = 0;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line == "[keys]" {
            continue;
        }
        let (slot, value) = match line.split_once('=') {
            Some((key, value)) => {
                let slot = match key.trim() {
                    "key" | "encryption" | "encryption_key" => &mut keys.encryption,
                    "auth_key" | "authentication" | "authentication_key" => {
                        &mut keys.authentication
                    }
                    other => {
                        return Err(UserError(format!(
                            "{name} line {}: unknown name {other:?} (use key = ... and auth_key = ...)",
                            i + 1
                        )));
                    }
                };
                (slot, value.trim().trim_matches('"').to_string())
            }
            None => {
                bare += 1;
                match bare {
                    1 => (&mut keys.encryption, line.to_string()),
                    2 => (&mut keys.authentication, line.to_string()),
                    _ => {
                        return Err(UserError(format!(
                            "{name} line {}: more than two keys (encryption, then authentication)",
                            i + 1
                        )));
                    }
                }
            }
        };
        if slot.is_some() {
            return Err(UserError(format!(
                "{name} line {}: that key is already given above",
                i + 1
            )));
        }
        *slot = Some(value);
    }
    if !keys.any() {
        return Err(UserError(format!("{name} holds no key")));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: &str = "00112233445566778899AABBCCDDEEFF";
    const A: &str = "FFEEDDCCBBAA99887766554433221100";

    fn args(key: Option<&str>, auth: Option<&str>, file: Option<&Path>) -> KeyArgs {
        KeyArgs {
            key: key.map(Into::into),
            auth_key: auth.map(Into::into),
            key_file: file.map(Into::into),
        }
    }

    fn env_with<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    fn config(enc: Option<&str>, auth: Option<&str>) -> Result<KeysConfig, UserError> {
        Ok(KeysConfig {
            encryption: enc.map(Into::into),
            authentication: auth.map(Into::into),
        })
    }

    fn key_file(name: &str, text: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("kamscope-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn precedence_command_line_then_file_then_environment_then_config() {
        let file = key_file("precedence", &format!("{A}\n"), 0o600);
        let env = [(ENV_KEY, K)];
        let got = |a: KeyArgs, env: &[(&str, &str)], cfg| {
            a.resolve(env_with(env), || cfg)
                .unwrap()
                .map(|k| k.encryption[0])
        };
        assert_eq!(
            got(
                args(Some(K), None, Some(&file)),
                &env,
                config(Some(A), None)
            ),
            Some(0x00)
        );
        assert_eq!(
            got(args(None, None, Some(&file)), &env, config(Some(K), None)),
            Some(0xFF)
        );
        assert_eq!(
            got(args(None, None, None), &env, config(Some(A), None)),
            Some(0x00)
        );
        assert_eq!(
            got(args(None, None, None), &[], config(Some(A), Some(K))),
            Some(0xFF)
        );
        assert_eq!(
            got(
                args(None, None, None),
                &[(ENV_KEY, " ")],
                config(None, None)
            ),
            None
        );
        // The config is read only when nothing else names a key.
        let keys = args(Some(K), None, None)
            .resolve(env_with(&[]), || Err(UserError("broken config".into())))
            .unwrap();
        assert!(keys.is_some());
    }

    #[test]
    fn key_file_formats() {
        let named = key_file(
            "named",
            &format!("# meter 42\n\nkey = {K}\nauth_key = \"{A}\"\n"),
            0o600,
        );
        let keys = args(None, None, Some(&named))
            .resolve(env_with(&[]), || config(None, None))
            .unwrap()
            .unwrap();
        assert_eq!(keys.encryption[15], 0xFF);
        assert_eq!(keys.authentication.unwrap()[0], 0xFF);
        let toml = key_file(
            "toml",
            &format!("[keys]\nencryption = \"{K}\"\nauthentication = \"{A}\"\n"),
            0o400,
        );
        let keys = args(None, None, Some(&toml))
            .resolve(env_with(&[]), || config(None, None))
            .unwrap()
            .unwrap();
        assert!(keys.authentication.is_some());
        let bare = key_file("bare", "0011 2233 4455 6677 8899 AABB CCDD EEFF\n", 0o600);
        let keys = args(None, None, Some(&bare))
            .resolve(env_with(&[]), || config(None, None))
            .unwrap()
            .unwrap();
        assert_eq!(keys.encryption[1], 0x11);
        assert_eq!(keys.authentication, None);
    }

    /// Every refusal is one sentence, and none shows the key.
    #[test]
    fn bad_keys_are_refused_without_showing_them() {
        let secret = "00112233445566778899AABBCCDDEEFG";
        let err = |a: KeyArgs, env: &[(&str, &str)]| {
            let e = a
                .resolve(env_with(env), || config(None, None))
                .expect_err("refused")
                .0;
            assert!(!e.contains("0011223344"), "{e}");
            assert!(!e.contains('\n'), "{e}");
            e
        };
        assert_eq!(
            err(args(Some(secret), None, None), &[]),
            "--key must be 32 hex digits (16 bytes)"
        );
        assert_eq!(
            err(args(None, Some(K), None), &[]),
            "--auth-key needs --key (the encryption key) too"
        );
        assert_eq!(
            err(args(None, None, None), &[(ENV_AUTH_KEY, K)]),
            "KAMSCOPE_AUTH_KEY needs KAMSCOPE_KEY (the encryption key) too"
        );
        assert_eq!(
            err(args(None, None, None), &[(ENV_KEY, secret)]),
            "KAMSCOPE_KEY must be 32 hex digits (16 bytes)"
        );
        let open = key_file("open", &format!("{K}\n"), 0o644);
        assert_eq!(
            err(args(None, None, Some(&open)), &[]),
            format!(
                "key file {0} can be read by other users: make it yours only (chmod 600 {0})",
                open.display()
            )
        );
        let bad = key_file("bad", &format!("key = {secret}\n"), 0o600);
        assert!(
            err(args(None, None, Some(&bad)), &[])
                .ends_with("the encryption key must be 32 hex digits (16 bytes)")
        );
        let unknown = key_file("unknown", &format!("secret = {K}\n"), 0o600);
        assert!(err(args(None, None, Some(&unknown)), &[]).contains("line 1: unknown name"));
        let three = key_file("three", &format!("{K}\n{A}\n{K}\n"), 0o600);
        assert!(err(args(None, None, Some(&three)), &[]).contains("line 3: more than two keys"));
        let empty = key_file("empty", "# nothing\n", 0o600);
        assert!(err(args(None, None, Some(&empty)), &[]).ends_with("holds no key"));
        let missing = std::env::temp_dir().join("kamscope-no-such-key-file");
        assert!(err(args(None, None, Some(&missing)), &[]).ends_with("No such file or directory"));
    }
}
