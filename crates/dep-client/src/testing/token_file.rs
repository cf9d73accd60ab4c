//! Server token files made at run time, the way the portal makes them: the token JSON in a
//! MIME part between MESSAGE markers, CMS `EnvelopedData` to a certificate (RSA PKCS#1 v1.5,
//! AES-CBC), BER with indefinite lengths (or DER), S/MIME-wrapped (or PEM, base64, raw).
//! Every layer can be spoiled on purpose, to test each error.

use aes::cipher::{
    BlockModeEncrypt as _, KeyIvInit as _,
    block_padding::{NoPadding, Pkcs7},
};
use cms::{
    cert::IssuerAndSerialNumber,
    content_info::{CmsVersion, ContentInfo},
    enveloped_data::{
        EncryptedContentInfo, EnvelopedData, KeyTransRecipientInfo, RecipientIdentifier,
        RecipientInfo, RecipientInfos,
    },
};
use der::{
    Any, Decode as _, Encode as _,
    asn1::{ObjectIdentifier, OctetString, SetOfVec},
};
use pkcs8::DecodePublicKey as _;
use rsa::PublicKey;
use x509_cert::{Certificate, spki::AlgorithmIdentifierOwned};

use crate::token::{
    BEGIN_MESSAGE, END_MESSAGE, ID_AES128_CBC, ID_AES192_CBC, ID_AES256_CBC, ID_ENVELOPED_DATA,
    RSA_ENCRYPTION, ServerToken,
};

/// `id-data` (RFC 5652 §4): the type of the encrypted content.
const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
/// `id-signedData`, for a CMS message of the wrong type.
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// `des-ede3-cbc`, a content cipher the client refuses.
const DES_EDE3_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.3.7");

/// How the CMS is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmsEncoding {
    /// BER as the portal sends it: every constructed value with an indefinite length (`30 80`
    /// … `00 00`), long OCTET STRINGs split into constructed chunks.
    BerIndefinite,
    /// DER.
    Der,
}

/// The file's outer form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapping {
    /// S/MIME as downloaded: MIME headers (CRLF), blank line, base64 in 64-column lines.
    Smime,
    /// PEM with this label (`PKCS7` or `CMS`).
    Pem(&'static str),
    /// Base64 alone.
    Base64,
    /// The CMS bytes as they are.
    Raw,
}

/// The content cipher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentCipher {
    /// AES-128-CBC (what the portal uses).
    Aes128Cbc,
    /// AES-192-CBC.
    Aes192Cbc,
    /// AES-256-CBC.
    Aes256Cbc,
    /// DES-EDE3-CBC's OID over AES-128 bytes (a cipher the client must refuse).
    TripleDesOid,
}

/// A token file to make.
#[derive(Debug, Clone)]
pub struct TokenFileBuilder {
    content: Vec<u8>,
    recipient: Vec<u8>,
    address_to: Option<Vec<u8>>,
    encrypt_to: Option<PublicKey>,
    encoding: CmsEncoding,
    wrapping: Wrapping,
    cipher: ContentCipher,
    bad_padding: bool,
    content_type: ObjectIdentifier,
}

/// The inner MIME part as the portal writes it, around this JSON.
#[must_use]
pub fn token_message(json: &[u8]) -> Vec<u8> {
    let mut out =
        b"Content-Type: text/plain;charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
            .to_vec();
    out.extend_from_slice(BEGIN_MESSAGE.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(json);
    out.push(b'\n');
    out.extend_from_slice(END_MESSAGE.as_bytes());
    out.push(b'\n');
    out
}

impl TokenFileBuilder {
    /// A portal-like file (BER, S/MIME, AES-128-CBC) of this token for this certificate (DER).
    #[must_use]
    pub fn new(token: &ServerToken, certificate_der: &[u8]) -> Self {
        Self::with_content(token_message(&token.to_json_secret()), certificate_der)
    }

    /// A file whose decrypted content is `content` (to test the inner layers).
    #[must_use]
    pub fn with_content(content: Vec<u8>, certificate_der: &[u8]) -> Self {
        Self {
            content,
            recipient: certificate_der.to_vec(),
            address_to: None,
            encrypt_to: None,
            encoding: CmsEncoding::BerIndefinite,
            wrapping: Wrapping::Smime,
            cipher: ContentCipher::Aes128Cbc,
            bad_padding: false,
            content_type: ID_ENVELOPED_DATA,
        }
    }

    /// The CMS encoding.
    #[must_use]
    pub const fn encoding(mut self, encoding: CmsEncoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// The outer form.
    #[must_use]
    pub const fn wrapping(mut self, wrapping: Wrapping) -> Self {
        self.wrapping = wrapping;
        self
    }

    /// The content cipher.
    #[must_use]
    pub const fn cipher(mut self, cipher: ContentCipher) -> Self {
        self.cipher = cipher;
        self
    }

    /// Names another certificate (DER) as the recipient, still encrypting to the first one's
    /// key (a token for another MDM server).
    #[must_use]
    pub fn addressed_to(mut self, certificate_der: &[u8]) -> Self {
        self.address_to = Some(certificate_der.to_vec());
        self
    }

    /// Encrypts the content key to another public key while naming the certificate (a
    /// certificate re-issued with the same issuer and serial for a new key).
    #[must_use]
    pub fn content_key_encrypted_to(mut self, key: PublicKey) -> Self {
        self.encrypt_to = Some(key);
        self
    }

    /// Ends the content with an invalid PKCS#7 padding block.
    #[must_use]
    pub const fn bad_padding(mut self) -> Self {
        self.bad_padding = true;
        self
    }

    /// Labels the CMS as signed data instead of enveloped data.
    #[must_use]
    pub const fn as_signed_data(mut self) -> Self {
        self.content_type = ID_SIGNED_DATA;
        self
    }

    /// Makes the file.
    ///
    /// # Panics
    /// If the certificate does not decode or the encoders fail (a bug in test setup).
    #[must_use]
    #[expect(clippy::expect_used, reason = "test support: setup failures are bugs")]
    pub fn build(&self) -> Vec<u8> {
        let der = self.cms_der().expect("CMS encodes");
        let cms = match self.encoding {
            CmsEncoding::Der => der,
            CmsEncoding::BerIndefinite => to_indefinite_ber(&der).expect("DER re-encodes"),
        };
        wrap(&cms, self.wrapping)
    }

    #[expect(clippy::expect_used, reason = "test support: setup failures are bugs")]
    fn cms_der(&self) -> der::Result<Vec<u8>> {
        let recipient = Certificate::from_der(&self.recipient)?;
        let named = match &self.address_to {
            Some(other) => Certificate::from_der(other)?,
            None => recipient.clone(),
        };
        let key = match &self.encrypt_to {
            Some(key) => key.clone(),
            None => {
                let spki = recipient
                    .tbs_certificate()
                    .subject_public_key_info()
                    .to_der()?;
                PublicKey::from_public_key_der(&spki).expect("an RSA certificate")
            }
        };
        let (oid, key_len) = match self.cipher {
            ContentCipher::Aes128Cbc => (ID_AES128_CBC, 16),
            ContentCipher::Aes192Cbc => (ID_AES192_CBC, 24),
            ContentCipher::Aes256Cbc => (ID_AES256_CBC, 32),
            ContentCipher::TripleDesOid => (DES_EDE3_CBC, 16),
        };
        let mut content_key = vec![0u8; key_len];
        let mut iv = [0u8; 16];
        getrandom::fill(&mut content_key).expect("random");
        getrandom::fill(&mut iv).expect("random");
        let ciphertext = self.encrypt_content(&content_key, &iv);
        let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
        let encrypted_key = key
            .pkcs1v15_encrypt_with_rng(&mut rng, &content_key)
            .expect("RSA encryption");

        let recipient_info = KeyTransRecipientInfo {
            version: CmsVersion::V0,
            rid: RecipientIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: named.tbs_certificate().issuer().clone(),
                serial_number: named.tbs_certificate().serial_number().clone(),
            }),
            key_enc_alg: AlgorithmIdentifierOwned {
                oid: RSA_ENCRYPTION,
                parameters: Some(Any::null()),
            },
            enc_key: OctetString::new(encrypted_key)?,
        };
        let enveloped = EnvelopedData {
            version: CmsVersion::V0,
            originator_info: None,
            recip_infos: RecipientInfos(SetOfVec::try_from(vec![RecipientInfo::Ktri(
                recipient_info,
            )])?),
            encrypted_content: EncryptedContentInfo {
                content_type: ID_DATA,
                content_enc_alg: AlgorithmIdentifierOwned {
                    oid,
                    parameters: Some(Any::encode_from(&OctetString::new(iv.to_vec())?)?),
                },
                encrypted_content: Some(OctetString::new(ciphertext)?),
            },
            unprotected_attrs: None,
        };
        ContentInfo {
            content_type: self.content_type,
            content: Any::encode_from(&enveloped)?,
        }
        .to_der()
    }

    fn encrypt_content(&self, key: &[u8], iv: &[u8; 16]) -> Vec<u8> {
        let mut content = self.content.clone();
        if self.bad_padding {
            // Whole blocks whose last byte (0) is no PKCS#7 padding.
            content.resize(content.len().div_ceil(16) * 16 + 16, 0);
            return encrypt::<NoPadding>(self.cipher, key, iv, &content);
        }
        encrypt::<Pkcs7>(self.cipher, key, iv, &content)
    }
}

fn encrypt<P: aes::cipher::block_padding::Padding>(
    cipher: ContentCipher,
    key: &[u8],
    iv: &[u8; 16],
    content: &[u8],
) -> Vec<u8> {
    match cipher {
        ContentCipher::Aes128Cbc | ContentCipher::TripleDesOid => {
            cbc::Encryptor::<aes::Aes128>::new_from_slices(key, iv)
                .map(|c| c.encrypt_padded_vec::<P>(content))
                .unwrap_or_default()
        }
        ContentCipher::Aes192Cbc => cbc::Encryptor::<aes::Aes192>::new_from_slices(key, iv)
            .map(|c| c.encrypt_padded_vec::<P>(content))
            .unwrap_or_default(),
        ContentCipher::Aes256Cbc => cbc::Encryptor::<aes::Aes256>::new_from_slices(key, iv)
            .map(|c| c.encrypt_padded_vec::<P>(content))
            .unwrap_or_default(),
    }
}

/// The S/MIME, PEM or base64 form of CMS bytes.
#[must_use]
pub fn wrap(cms: &[u8], wrapping: Wrapping) -> Vec<u8> {
    use base64ct::{Base64, Encoding as _};
    let lines = || {
        let text = Base64::encode_string(cms);
        let mut out = String::new();
        for chunk in text.as_bytes().chunks(64) {
            out.push_str(core::str::from_utf8(chunk).unwrap_or_default());
            out.push_str("\r\n");
        }
        out
    };
    match wrapping {
        Wrapping::Raw => cms.to_vec(),
        Wrapping::Base64 => lines().into_bytes(),
        Wrapping::Pem(label) => format!(
            "-----BEGIN {label}-----\n{}-----END {label}-----\n",
            lines()
        )
        .into_bytes(),
        Wrapping::Smime => format!(
            "Content-Type: application/pkcs7-mime; name=smime.p7m; smime-type=enveloped-data\r\n\
             Content-Transfer-Encoding: base64\r\n\
             Content-Disposition: attachment; filename=smime.p7m\r\n\
             Content-Description: S/MIME Encrypted Message\r\n\r\n{}",
            lines()
        )
        .into_bytes(),
    }
}

/// The chunk size of constructed OCTET STRINGs in [`to_indefinite_ber`].
const CHUNK: usize = 64;

/// Re-encodes DER as BER with every constructed value of indefinite length and every OCTET
/// STRING (universal or `[0]` implicit) longer than 64 bytes split into a constructed,
/// indefinite-length string of 64-byte chunks.
///
/// # Errors
/// The input is not well-formed DER.
pub fn to_indefinite_ber(der: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(der.len() + der.len() / 8);
    reencode(der, &mut out, 0)?;
    Ok(out)
}

fn reencode(mut input: &[u8], out: &mut Vec<u8>, depth: usize) -> Result<(), &'static str> {
    if depth > 32 {
        return Err("nested too deep");
    }
    while !input.is_empty() {
        let (tag, value, rest) = split_tlv(input)?;
        let constructed = tag.first().is_some_and(|t| t & 0x20 != 0);
        let chunkable = tag == [0x04] || tag == [0x80];
        if constructed {
            out.extend_from_slice(tag);
            out.push(0x80);
            reencode(value, out, depth + 1)?;
            out.extend_from_slice(&[0, 0]);
        } else if chunkable && value.len() > CHUNK {
            out.push(tag.first().copied().unwrap_or(0x04) | 0x20);
            out.push(0x80);
            for chunk in value.chunks(CHUNK) {
                out.push(0x04);
                write_length(out, chunk.len());
                out.extend_from_slice(chunk);
            }
            out.extend_from_slice(&[0, 0]);
        } else {
            out.extend_from_slice(tag);
            write_length(out, value.len());
            out.extend_from_slice(value);
        }
        input = rest;
    }
    Ok(())
}

/// One DER TLV: tag bytes, value, and what follows.
type Tlv<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// Splits one DER TLV.
fn split_tlv(input: &[u8]) -> Result<Tlv<'_>, &'static str> {
    let first = *input.first().ok_or("no tag")?;
    let mut tag_len = 1;
    if first & 0x1f == 0x1f {
        while input.get(tag_len).ok_or("truncated tag")? & 0x80 != 0 {
            tag_len += 1;
        }
        tag_len += 1;
    }
    let length_byte = *input.get(tag_len).ok_or("no length")?;
    let (length, header) = if length_byte < 0x80 {
        (usize::from(length_byte), tag_len + 1)
    } else {
        let count = usize::from(length_byte & 0x7f);
        if count == 0 || count > 4 {
            return Err("not a DER length");
        }
        let bytes = input
            .get(tag_len + 1..tag_len + 1 + count)
            .ok_or("truncated length")?;
        let length = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (length, tag_len + 1 + count)
    };
    let end = header.checked_add(length).ok_or("length overflow")?;
    let value = input.get(header..end).ok_or("truncated value")?;
    Ok((
        input.get(..tag_len).ok_or("no tag")?,
        value,
        input.get(end..).unwrap_or_default(),
    ))
}

fn write_length(out: &mut Vec<u8>, length: usize) {
    if length < 0x80 {
        out.push(u8::try_from(length).unwrap_or(0));
        return;
    }
    let bytes = length.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let significant = bytes.get(skip..).unwrap_or_default();
    out.push(0x80 | u8::try_from(significant.len()).unwrap_or(0));
    out.extend_from_slice(significant);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_becomes_indefinite_ber() {
        // SEQUENCE { INTEGER 0, OCTET STRING (70 bytes) }
        let mut der = vec![0x30, 3 + 2 + 70, 0x02, 0x01, 0x00, 0x04, 70];
        der.extend_from_slice(&[0xab; 70]);
        let ber = to_indefinite_ber(&der).unwrap();
        assert_eq!(&ber[..2], &[0x30, 0x80]);
        assert_eq!(&ber[2..5], &[0x02, 0x01, 0x00]);
        assert_eq!(&ber[5..9], &[0x24, 0x80, 0x04, 64]);
        assert_eq!(&ber[ber.len() - 4..], &[0, 0, 0, 0]);
        assert!(to_indefinite_ber(&[0x30, 0x05, 0x00]).is_err());
    }
}
