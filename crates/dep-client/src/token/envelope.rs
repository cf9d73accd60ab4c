//! Opening the CMS `EnvelopedData` (RFC 5652) of a server token: BER (indefinite lengths) or
//! DER, one key-transport recipient matched by issuer and serial (or subject key identifier),
//! RSA PKCS#1 v1.5 for the content key, AES-CBC for the content.

use aes::cipher::{BlockModeDecrypt as _, KeyIvInit as _, block_padding::Pkcs7};
use cms::{
    content_info::ContentInfo,
    enveloped_data::{EnvelopedData, RecipientIdentifier, RecipientInfo},
};
use der::{Decode as _, Encode as _, asn1::ObjectIdentifier};
use rsa::{PrivateKey, traits::PublicKeyParts as _};
use x509_cert::{Certificate, ext::pkix::SubjectKeyIdentifier};
use zeroize::Zeroizing;

use super::{TokenError, file::printable};

/// `id-envelopedData` (RFC 5652 §6).
pub const ID_ENVELOPED_DATA: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.3");
/// `rsaEncryption` (RFC 8017): RSAES-PKCS1-v1_5 key transport.
pub const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// `id-aes128-CBC` (RFC 3565).
pub const ID_AES128_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.2");
/// `id-aes192-CBC` (RFC 3565).
pub const ID_AES192_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.22");
/// `id-aes256-CBC` (RFC 3565).
pub const ID_AES256_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.42");

/// The AES block (and CBC IV) size.
const BLOCK: usize = 16;

/// Reads the `EnvelopedData` of a CMS message (BER or DER).
pub(super) fn parse(cms: &[u8]) -> Result<EnvelopedData, TokenError> {
    let info = ContentInfo::from_ber(cms).map_err(|error| TokenError::NotCms {
        reason: error.to_string(),
    })?;
    if info.content_type != ID_ENVELOPED_DATA {
        return Err(TokenError::NotEnvelopedData {
            content_type: info.content_type.to_string(),
        });
    }
    // The content was read as BER; its re-encoded TLV keeps the inner BER, so read it as BER.
    info.content
        .to_der()
        .and_then(|bytes| EnvelopedData::from_ber(&bytes))
        .map_err(|error| TokenError::BadEnvelope {
            reason: error.to_string(),
        })
}

/// Decrypts the content of `enveloped` for `certificate`'s recipient with `key`.
pub(super) fn open(
    enveloped: &EnvelopedData,
    certificate: &Certificate,
    key: &PrivateKey,
) -> Result<Zeroizing<Vec<u8>>, TokenError> {
    let content_key = recover_content_key(enveloped, certificate, key)?;
    let content = &enveloped.encrypted_content;
    let ciphertext = content
        .encrypted_content
        .as_ref()
        .ok_or(TokenError::NoEncryptedContent)?
        .as_bytes();
    let algorithm = &content.content_enc_alg;
    let iv = algorithm
        .parameters
        .as_ref()
        .ok_or(TokenError::BadIv {
            reason: "the content-encryption algorithm has no parameters".to_owned(),
        })?
        .decode_as::<der::asn1::OctetString>()
        .map_err(|error| TokenError::BadIv {
            reason: format!("the parameters are not an OCTET STRING: {error}"),
        })?;
    let iv: [u8; BLOCK] = iv.as_bytes().try_into().map_err(|_| TokenError::BadIv {
        reason: format!("the IV has {} bytes, AES-CBC needs 16", iv.as_bytes().len()),
    })?;
    if ciphertext.is_empty() || ciphertext.len() % BLOCK != 0 {
        return Err(TokenError::ContentDecryption {
            reason: "the encrypted content is not a whole number of AES blocks",
        });
    }
    let expected = match algorithm.oid {
        ID_AES128_CBC => 16,
        ID_AES192_CBC => 24,
        ID_AES256_CBC => 32,
        other => {
            return Err(TokenError::UnsupportedContentEncryption {
                algorithm: other.to_string(),
            });
        }
    };
    if content_key.len() != expected {
        // RSA PKCS#1 v1.5 decryption with implicit rejection answers a wrong key with a
        // synthetic key of another length (usually): the token is for another key.
        return Err(TokenError::WrongKey {
            reason: format!(
                "the content key it recovers has {} bytes where {} needs {expected}",
                content_key.len(),
                cipher_name(algorithm.oid)
            ),
        });
    }
    let mut buffer = Zeroizing::new(ciphertext.to_vec());
    let plain_len = decrypt_cbc(algorithm.oid, &content_key, &iv, &mut buffer)?;
    buffer.truncate(plain_len);
    Ok(buffer)
}

/// AES-CBC with PKCS#7 padding, in place; the plaintext's length.
fn decrypt_cbc(
    algorithm: ObjectIdentifier,
    key: &[u8],
    iv: &[u8; BLOCK],
    buffer: &mut [u8],
) -> Result<usize, TokenError> {
    let padding = |_| TokenError::ContentDecryption {
        reason: "the padding is wrong after decryption (a wrong key or a corrupted file)",
    };
    let length = |_| TokenError::ContentDecryption {
        reason: "the content key has the wrong length",
    };
    let plain = match algorithm {
        ID_AES128_CBC => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .map_err(length)?
            .decrypt_padded::<Pkcs7>(buffer)
            .map_err(padding)?
            .len(),
        ID_AES192_CBC => cbc::Decryptor::<aes::Aes192>::new_from_slices(key, iv)
            .map_err(length)?
            .decrypt_padded::<Pkcs7>(buffer)
            .map_err(padding)?
            .len(),
        _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .map_err(length)?
            .decrypt_padded::<Pkcs7>(buffer)
            .map_err(padding)?
            .len(),
    };
    Ok(plain)
}

/// Finds this certificate's key-transport recipient and decrypts the content key.
fn recover_content_key(
    enveloped: &EnvelopedData,
    certificate: &Certificate,
    key: &PrivateKey,
) -> Result<Zeroizing<Vec<u8>>, TokenError> {
    let tbs = certificate.tbs_certificate();
    let subject_key_id = tbs
        .get_extension::<SubjectKeyIdentifier>()
        .ok()
        .flatten()
        .map(|(_critical, id)| id);
    let mut seen = Vec::new();
    for recipient in enveloped.recip_infos.0.iter() {
        let RecipientInfo::Ktri(ktri) = recipient else {
            seen.push(recipient_kind(recipient).to_owned());
            continue;
        };
        let matches = match &ktri.rid {
            RecipientIdentifier::IssuerAndSerialNumber(id) => {
                seen.push(format!(
                    "issuer {}, serial {}",
                    printable(&id.issuer.to_string()),
                    id.serial_number
                ));
                id.issuer == *tbs.issuer() && id.serial_number == *tbs.serial_number()
            }
            RecipientIdentifier::SubjectKeyIdentifier(id) => {
                seen.push(format!(
                    "subject key identifier {}",
                    hex_string(id.0.as_bytes())
                ));
                subject_key_id
                    .as_ref()
                    .is_some_and(|own| own.0.as_bytes() == id.0.as_bytes())
            }
        };
        if !matches {
            continue;
        }
        if ktri.key_enc_alg.oid != RSA_ENCRYPTION {
            return Err(TokenError::UnsupportedKeyTransport {
                algorithm: ktri.key_enc_alg.oid.to_string(),
            });
        }
        let encrypted = ktri.enc_key.as_bytes();
        if encrypted.len() != key.size() {
            return Err(TokenError::WrongKey {
                reason: format!(
                    "the encrypted content key has {} bytes, the key's modulus {}",
                    encrypted.len(),
                    key.size()
                ),
            });
        }
        let content_key =
            key.pkcs1v15_decrypt(encrypted)
                .map_err(|error| TokenError::WrongKey {
                    reason: format!("RSA PKCS#1 v1.5 decryption failed: {error}"),
                })?;
        return Ok(Zeroizing::new(content_key));
    }
    Err(TokenError::NotAddressedToCertificate {
        certificate: format!(
            "issuer {}, serial {}",
            printable(&tbs.issuer().to_string()),
            tbs.serial_number()
        ),
        recipients: seen,
    })
}

const fn recipient_kind(recipient: &RecipientInfo) -> &'static str {
    match recipient {
        RecipientInfo::Ktri(_) => "key transport",
        RecipientInfo::Kari(_) => "key agreement",
        RecipientInfo::Kekri(_) => "key-encryption key",
        RecipientInfo::Pwri(_) => "password",
        RecipientInfo::Ori(_) => "other",
    }
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const fn cipher_name(algorithm: ObjectIdentifier) -> &'static str {
    match algorithm {
        ID_AES128_CBC => "AES-128-CBC",
        ID_AES192_CBC => "AES-192-CBC",
        _ => "AES-256-CBC",
    }
}
