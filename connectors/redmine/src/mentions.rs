//! `@login` mentions in Redmine text, found the way Redmine 5 itself finds them
//! (`Redmine::Acts::Mentionable::MENTION_PATTERN`), so tally counts the people Redmine
//! notified and not e-mail addresses or code.

/// Characters a Redmine login may contain (`User` validates `/\A[a-z0-9_\-@\.]*\z/i`).
fn login_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '@' | '.')
}

/// Removes what Redmine ignores: fenced code (```` ``` ````, `~~~`) and `<pre>` blocks, and
/// quoted lines (`> …`).
fn strip_ignored(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_fence: Option<&str> = None;
    let mut in_pre = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(fence) = in_fence {
            if trimmed.starts_with(fence) {
                in_fence = None;
            }
            continue;
        }
        if trimmed.starts_with("```") {
            in_fence = Some("```");
            continue;
        }
        if trimmed.starts_with("~~~") {
            in_fence = Some("~~~");
            continue;
        }
        let lower = trimmed.to_ascii_lowercase();
        if in_pre {
            if lower.contains("</pre>") {
                in_pre = false;
            }
            continue;
        }
        if lower.starts_with("<pre") {
            in_pre = !lower.contains("</pre>");
            continue;
        }
        if trimmed.starts_with('>') {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The logins mentioned in `text`, in order of first appearance, each once.
pub fn mentioned_logins(text: &str) -> Vec<String> {
    let text = strip_ignored(text);
    let chars: Vec<char> = text.chars().collect();
    let mut found: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        // A mention starts at an `@` at the start of text or after a non-word character,
        // so `ann@corp.example` is an address, not a mention of `corp.example`.
        let starts =
            chars[i] == '@' && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_'));
        if !starts {
            i += 1;
            continue;
        }
        let mut end = i + 1;
        while end < chars.len() && login_char(chars[end]) {
            end += 1;
        }
        // Trailing punctuation ends a sentence, not a login ("cc @bob." / "@ann-").
        let mut last = end;
        while last > i + 1 && matches!(chars[last - 1], '.' | '-' | '_' | '@') {
            last -= 1;
        }
        if last > i + 1 {
            let login: String = chars[i + 1..last].iter().collect();
            if !found.iter().any(|f| f.eq_ignore_ascii_case(&login)) {
                found.push(login);
            }
        }
        i = end.max(i + 1);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_logins_like_redmine() {
        assert_eq!(
            mentioned_logins("Looking into it, cc @alee and @admin."),
            vec!["alee", "admin"]
        );
        assert_eq!(mentioned_logins("@bob: please check"), vec!["bob"]);
        assert_eq!(mentioned_logins("(@john.doe)"), vec!["john.doe"]);
        assert_eq!(mentioned_logins("thanks @ann-,"), vec!["ann"]);
        assert_eq!(mentioned_logins("@a.lee@corp works"), vec!["a.lee@corp"]);
    }

    #[test]
    fn ignores_addresses_code_and_quotes() {
        assert!(mentioned_logins("write to ann@corp.example").is_empty());
        assert!(mentioned_logins("```\n@decorator\n```\n").is_empty());
        assert!(mentioned_logins("<pre>\n@media print\n</pre>").is_empty());
        assert!(mentioned_logins("> @bob wrote this\n").is_empty());
        assert!(mentioned_logins("a lone @ sign").is_empty());
    }

    #[test]
    fn each_login_once() {
        assert_eq!(mentioned_logins("@bob @Bob @bob"), vec!["bob"]);
    }
}
