//! Composing an email: multipart plain text and HTML, an optional attachment, and a
//! Message-ID derived from the outbox key, so the same key always gives the same Message-ID.

use chrono::{DateTime, Utc};
use lettre::Address;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use sha2::{Digest, Sha256};

use super::templates::Rendered;

/// `<32 hex digits@hcc-monitor>` from the key: recognisable when a crash made the mailer send
/// a message twice, and carrying nothing of the key itself (which holds an address).
pub fn message_id(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("<{hex}@hcc-monitor>")
}

/// A file attached to an email.
#[derive(Debug, Clone)]
pub struct File {
    pub name: String,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// The formatted message, ready for the outbox.
pub fn compose(
    from: &Mailbox,
    to: &Address,
    key: &str,
    rendered: Rendered,
    date: DateTime<Utc>,
    attachment: Option<File>,
) -> Result<Vec<u8>, lettre::error::Error> {
    let body = MultiPart::alternative_plain_html(rendered.text, rendered.html);
    let body = match attachment {
        None => body,
        Some(f) => MultiPart::mixed()
            .multipart(body)
            .singlepart(Attachment::new(f.name).body(
                f.body,
                ContentType::parse(f.content_type).expect("a valid content type"),
            )),
    };
    let message = lettre::Message::builder()
        .from(from.clone())
        .to(Mailbox::new(None, to.clone()))
        .subject(rendered.subject)
        .message_id(Some(message_id(key)))
        .date(date.into())
        .multipart(body)?;
    Ok(message.formatted())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_key_gives_the_same_message_id_and_another_key_another() {
        let a = message_id("escalation/department_head/1772600000/a@x.vn");
        assert_eq!(
            a,
            message_id("escalation/department_head/1772600000/a@x.vn")
        );
        assert_ne!(
            a,
            message_id("escalation/department_head/1772600001/a@x.vn")
        );
        assert!(a.starts_with('<') && a.ends_with("@hcc-monitor>") && a.len() == 46);
    }
}
