//! Renders a mail's content into its HTML and plain-text parts (askama templates in
//! `app/templates/mail/`). The HTML template escapes everything, so names from imported data
//! arrive as text, never as markup.

use askama::Template;

use crate::notifications::MailContent;

#[derive(Template)]
#[template(path = "mail/mail.html")]
struct Html<'a> {
    subject: &'a str,
    content: &'a MailContent,
    action_label: &'a str,
    action_url: Option<String>,
    unsubscribe_url: Option<String>,
}

#[derive(Template)]
#[template(path = "mail/mail.txt")]
struct Text<'a> {
    content: &'a MailContent,
    action_label: &'a str,
    action_url: Option<String>,
    unsubscribe_url: Option<String>,
}

/// The two parts of a mail: (html, plain text). Links are made absolute below `public_url`.
pub fn render(subject: &str, content: &MailContent, public_url: &str) -> Result<(String, String), askama::Error> {
    let base = public_url.trim_end_matches('/');
    let (action_label, action_url) = match &content.action {
        Some((label, path)) => (label.as_str(), Some(format!("{base}{path}"))),
        None => ("", None),
    };
    let unsubscribe_url = content.unsubscribe.as_ref().map(|token| format!("{base}/unsubscribe/{token}"));
    let html =
        Html { subject, content, action_label, action_url: action_url.clone(), unsubscribe_url: unsubscribe_url.clone() }.render()?;
    let text = Text { content, action_label, action_url, unsubscribe_url }.render()?;
    Ok((html, text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notifications::MailTable;

    #[test]
    fn markup_in_imported_names_is_escaped_in_the_html_part() {
        let content = MailContent {
            greeting: "Hello <script>alert('x')</script>,".into(),
            lead: "Reviews wait for you.".into(),
            table: Some(MailTable {
                caption: "Riskiest".into(),
                head: vec!["Identity".into()],
                rows: vec![vec!["<img src=x onerror=alert(1)>".into()]],
            }),
            action: Some(("Open my reviews".into(), "/reviews".into())),
            unsubscribe: Some("tok".into()),
            ..Default::default()
        };
        let (html, text) = render("Subject", &content, "https://attest.example.com/").expect("renders");
        assert!(!html.contains("<script>") && !html.contains("<img"), "{html}");
        assert!(html.contains("&#60;script&#62;"), "{html}");
        assert!(html.contains("href=\"https://attest.example.com/reviews\""), "{html}");
        assert!(html.contains("https://attest.example.com/unsubscribe/tok"));
        assert!(text.contains("Hello <script>alert('x')</script>,"), "plain text carries the name as text: {text}");
        assert!(text.contains("Open my reviews: https://attest.example.com/reviews"), "{text}");
    }
}
