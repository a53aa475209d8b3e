//! `EmailAddress`: parsed once, normalised, valid thereafter ("parse, don't validate").

use crate::http::problem::AppError;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Trims and lower-cases the address, then checks its shape: one `@`, a local part
    /// of 1–64 characters, a domain with a dot and sane labels, 254 characters at most.
    /// (Lower-casing the local part is what users expect, even if RFC 5321 allows case.)
    pub fn parse(raw: &str) -> Result<EmailAddress, AppError> {
        let invalid = || AppError::validation("email", "Enter a valid email address, like name@example.com.");
        let email = raw.trim().to_lowercase();
        if email.is_empty() || email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
        if local.is_empty() || local.len() > 64 || local.contains('@') || local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(invalid());
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-') && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return Err(invalid());
        }
        Ok(EmailAddress(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or(&self.0, |(l, _)| l)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's display name: trimmed, 1–100 characters, no control characters.
pub fn parse_name(raw: &str) -> Result<String, AppError> {
    let name = raw.trim();
    let count = name.chars().count();
    if count == 0 || count > 100 || name.chars().any(char::is_control) {
        return Err(AppError::validation("name", "Enter your name (1–100 characters)."));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lower_cased() {
        assert_eq!(EmailAddress::parse("  Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
    }

    #[test]
    fn malformed_addresses_are_refused_naming_the_field() {
        for bad in ["", "ada", "ada@", "@example.com", "ada@example", "a b@example.com", "ada@exa mple.com",
            "ada@@example.com", ".ada@example.com", "ada..b@example.com", "ada@-x.com", "ada@x..com"] {
            let err = EmailAddress::parse(bad).unwrap_err();
            assert!(matches!(&err, AppError::Validation { field, .. } if field == "email"), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert!(EmailAddress::parse(&long).is_err());
    }

    #[test]
    fn names_are_trimmed_and_limited() {
        assert_eq!(parse_name("  Ada Lovelace ").unwrap(), "Ada Lovelace");
        assert!(parse_name("   ").is_err());
        assert!(parse_name(&"x".repeat(101)).is_err());
        assert!(parse_name(&"é".repeat(100)).is_ok());
        assert!(parse_name("a\u{0}b").is_err());
    }

    mod properties {
        use super::*;
        use crate::proptest_text::{config, tricky_text};
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn a_parsed_address_has_the_promised_shape(raw in tricky_text(80)) {
                if let Ok(e) = EmailAddress::parse(&raw) {
                    let s = e.as_str();
                    prop_assert!(!s.is_empty() && s.len() <= 254);
                    prop_assert_eq!(s.to_lowercase(), s);
                    prop_assert_eq!(s.matches('@').count(), 1);
                    prop_assert!(s.chars().all(|c| !c.is_whitespace() && !c.is_control()));
                    prop_assert!(!e.local_part().is_empty() && e.local_part().len() <= 64);
                    prop_assert!(s.starts_with(e.local_part()));
                }
            }

            #[test]
            fn parsing_is_idempotent(raw in tricky_text(80)) {
                if let Ok(e) = EmailAddress::parse(&raw) {
                    prop_assert_eq!(EmailAddress::parse(e.as_str()), Ok(e));
                }
            }

            #[test]
            fn well_formed_addresses_parse_to_their_lower_case(
                local in "[A-Za-z0-9_+]{1,20}(\\.[A-Za-z0-9_+]{1,10})?",
                domain in "[A-Za-z0-9]{1,20}(-[A-Za-z0-9]{1,10})?(\\.[A-Za-z]{2,10}){1,3}",
                pad in "[ \t\n]{0,3}",
            ) {
                let raw = format!("{pad}{local}@{domain}{pad}");
                let e = EmailAddress::parse(&raw).unwrap();
                prop_assert_eq!(e.as_str(), format!("{local}@{domain}").to_lowercase());
                prop_assert_eq!(e.local_part(), local.to_lowercase());
            }

            #[test]
            fn a_parsed_name_is_trimmed_limited_and_free_of_controls(raw in tricky_text(120)) {
                match parse_name(&raw) {
                    Ok(name) => {
                        prop_assert_eq!(name.trim(), name.as_str());
                        prop_assert!((1..=100).contains(&name.chars().count()));
                        prop_assert!(!name.chars().any(char::is_control));
                        prop_assert_eq!(parse_name(&name), Ok(name.clone()));
                    }
                    Err(e) => prop_assert!(matches!(e, AppError::Validation { ref field, .. } if field == "name"), "{:?}", e),
                }
            }
        }
    }
}
