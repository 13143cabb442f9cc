//! The messages the application sends, from the files in `src/mail/templates/` (edit them to
//! change the wording; they are compiled in). In a `.txt` file the first line is the subject.
//! `{link}` and `{minutes}` are replaced; in the HTML part the values are HTML-escaped.

use super::Mail;

/// Which message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Template {
    VerifyEmail,
    PasswordReset,
}

impl Template {
    fn sources(self) -> (&'static str, &'static str) {
        match self {
            Template::VerifyEmail => (
                include_str!("templates/verify_email.txt"),
                include_str!("templates/verify_email.html"),
            ),
            Template::PasswordReset => (
                include_str!("templates/password_reset.txt"),
                include_str!("templates/password_reset.html"),
            ),
        }
    }

    /// The message to `to`, carrying `link`, valid for `minutes`.
    pub fn render(self, to: &str, link: &str, minutes: u64) -> Mail {
        let (text, html) = self.sources();
        let (subject, body) = text.split_once('\n').unwrap_or((text, ""));
        let minutes = minutes.to_string();
        let fill = |source: &str, link: &str, minutes: &str| {
            source.replace("{link}", link).replace("{minutes}", minutes)
        };
        Mail {
            to: to.to_owned(),
            subject: subject.trim().to_owned(),
            text: fill(body, link, &minutes),
            html: fill(html, &escape_html(link), &minutes),
            link: Some(link.to_owned()),
        }
    }
}

fn escape_html(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_parts_carry_the_link_and_the_lifetime() {
        let link = "https://app.example.com/verify-email#token=abc&x=1";
        let mail = Template::VerifyEmail.render("ana@example.com", link, 1440);
        assert!(!mail.subject.is_empty() && !mail.subject.contains('\n'));
        assert!(mail.text.contains(link) && mail.text.contains("1440 minutes"));
        assert!(mail.html.contains("token=abc&amp;x=1"), "{}", mail.html);
        assert!(!mail.text.contains("{link}") && !mail.html.contains("{minutes}"));
        let reset = Template::PasswordReset.render("ana@example.com", link, 60);
        assert_ne!(reset.subject, mail.subject);
    }
}
