//! `@username` mentions and uploads linked in GitLab Markdown.
//!
//! GitLab usernames hold letters, digits, `_`, `-` and `.`, and do not end in `.`. A
//! mention starts at an `@` that does not follow a word character (so `ann@corp.example`
//! is an address). `@group/subgroup` names a group, and `@all` everyone: neither is a
//! person. Code (fenced blocks and `inline code`) mentions nobody.

fn username_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// The text without fenced code blocks and inline code spans.
fn strip_code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut fence: Option<&str> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(f) = fence {
            if trimmed.starts_with(f) {
                fence = None;
            }
            continue;
        }
        if trimmed.starts_with("```") {
            fence = Some("```");
            continue;
        }
        if trimmed.starts_with("~~~") {
            fence = Some("~~~");
            continue;
        }
        let mut in_code = false;
        for c in line.chars() {
            if c == '`' {
                in_code = !in_code;
                out.push(' ');
            } else if !in_code {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

/// The usernames mentioned in `text`, in order of first appearance, each once (compared
/// case-insensitively, as GitLab does).
pub fn mentioned_usernames(text: &str) -> Vec<String> {
    let text = strip_code(text);
    let chars: Vec<char> = text.chars().collect();
    let mut found: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts =
            chars[i] == '@' && (i == 0 || !(username_char(chars[i - 1]) || chars[i - 1] == '@'));
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < chars.len() && username_char(chars[j]) {
            j += 1;
        }
        let mut name: String = chars[i + 1..j].iter().collect();
        while name.ends_with('.') {
            name.pop();
        }
        let group_path = chars.get(j) == Some(&'/');
        if !name.is_empty()
            && !group_path
            && !name.eq_ignore_ascii_case("all")
            && name.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && !found.iter().any(|f| f.eq_ignore_ascii_case(&name))
        {
            found.push(name);
        }
        i = j.max(i + 1);
    }
    found
}

/// Whether Markdown `text` links a file uploaded to GitLab: GitLab writes an upload into
/// the text as `[name](/uploads/<secret>/<file>)` (or `![name](…)` for images), and
/// GitLab 17 and later as `/-/project/<id>/uploads/<secret>/<file>`.
pub fn links_upload(text: &str) -> bool {
    let text = strip_code(text);
    text.contains("](/uploads/") || (text.contains("](/-/project/") && text.contains("/uploads/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_as_gitlab_finds_them() {
        assert_eq!(
            mentioned_usernames("cc @alee and @Bo.Ng. — also @alee, @ALEE"),
            vec!["alee", "Bo.Ng"]
        );
        assert!(mentioned_usernames("mail ann@corp.example").is_empty());
        assert!(mentioned_usernames("@all please look; @ops-team/oncall too").is_empty());
        assert!(mentioned_usernames("run `@decorator` or\n```\n@inside\n```\n").is_empty());
        assert_eq!(mentioned_usernames("(@x_1)"), vec!["x_1"]);
        assert!(mentioned_usernames("@ alone, @@double").is_empty());
    }

    #[test]
    fn uploads_in_markdown() {
        assert!(links_upload(
            "see ![screen](/uploads/66dbcd21ec5d24ed6ea225176098d52b/screen.png)"
        ));
        assert!(links_upload("[log.txt](/-/project/7/uploads/2f1e/log.txt)"));
        assert!(!links_upload("no files, just /uploads/ as words"));
        assert!(!links_upload("`[x](/uploads/a/b)`"));
    }
}
