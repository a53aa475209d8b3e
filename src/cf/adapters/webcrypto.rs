//! PBKDF2-HMAC-SHA256 and HMAC-SHA256 through WebCrypto (`crypto.subtle`): native code in
//! workerd, so 100,000 iterations, or a 64 KB webhook event, cost little wasm CPU time.

use crate::accounts::passwords::HASH_LEN;
use crate::platform::ports::PortError;
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

fn js_error(what: &str, e: JsValue) -> PortError {
    PortError(format!("webcrypto {what}: {}", e.as_string().unwrap_or_else(|| format!("{e:?}"))))
}

fn subtle() -> Result<SubtleCrypto, PortError> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).map_err(|e| js_error("crypto", e))?;
    let subtle = Reflect::get(&crypto, &"subtle".into()).map_err(|e| js_error("subtle", e))?;
    Ok(subtle.unchecked_into())
}

pub async fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32) -> Result<[u8; HASH_LEN], PortError> {
    let subtle = subtle()?;
    let usages = Array::of1(&"deriveBits".into());
    let key_data = Uint8Array::from(password);
    let key = JsFuture::from(
        subtle.import_key_with_str("raw", &key_data, "PBKDF2", false, &usages).map_err(|e| js_error("importKey", e))?,
    )
    .await
    .map_err(|e| js_error("importKey", e))?
    .unchecked_into::<CryptoKey>();

    let params = Object::new();
    let set = |k: &str, v: &JsValue| Reflect::set(&params, &k.into(), v).map(|_| ()).map_err(|e| js_error("params", e));
    set("name", &"PBKDF2".into())?;
    set("hash", &"SHA-256".into())?;
    set("salt", &Uint8Array::from(salt).into())?;
    set("iterations", &JsValue::from(iterations))?;
    let bits = JsFuture::from(
        subtle.derive_bits_with_object(&params, &key, (HASH_LEN * 8) as u32).map_err(|e| js_error("deriveBits", e))?,
    )
    .await
    .map_err(|e| js_error("deriveBits", e))?;
    let bytes = Uint8Array::new(&bits).to_vec();
    bytes.try_into().map_err(|_| PortError("webcrypto deriveBits: wrong length".into()))
}

/// HMAC-SHA256 of `message` under `key` (the Stripe webhook's signatures, E3).
pub async fn hmac_sha256(key: &[u8], message: &[u8]) -> Result<[u8; 32], PortError> {
    let subtle = subtle()?;
    let algorithm = Object::new();
    let set = |k: &str, v: &JsValue| Reflect::set(&algorithm, &k.into(), v).map(|_| ()).map_err(|e| js_error("params", e));
    set("name", &"HMAC".into())?;
    set("hash", &"SHA-256".into())?;
    let usages = Array::of1(&"sign".into());
    let key = JsFuture::from(
        subtle.import_key_with_object("raw", &Uint8Array::from(key), &algorithm, false, &usages).map_err(|e| js_error("importKey", e))?,
    )
    .await
    .map_err(|e| js_error("importKey", e))?
    .unchecked_into::<CryptoKey>();
    // WebCrypto copies `message` when called, so a view of the wasm memory is enough.
    let mac = JsFuture::from(subtle.sign_with_str_and_u8_array("HMAC", &key, message).map_err(|e| js_error("sign", e))?)
        .await
        .map_err(|e| js_error("sign", e))?;
    Uint8Array::new(&mac).to_vec().try_into().map_err(|_| PortError("webcrypto sign: wrong length".into()))
}
