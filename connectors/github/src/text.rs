//! What the connector reads out of Markdown bodies: `@login` mentions, links to uploaded
//! files, and link lines naming another system's key.

/// Drops what GitHub does not treat as a mention: fenced code blocks and inline code.
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
        // Inline code spans: drop what lies between pairs of backticks.
        let mut in_code = false;
        for c in line.chars() {
            if c == '`' {
                in_code = !in_code;
            } else if !in_code {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

fn login_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

/// The logins `@mentioned` in `text`, in order of first appearance, each once (compared
/// case-insensitively, GitHub logins being case-insensitive). A mention is `@` at the start
/// or after a character that cannot end a word or path (so `ann@corp.example` is an
/// address), followed by a login (letters, digits, single inner hyphens, at most 39); a
/// team mention `@org/team` names no single person and is skipped.
pub fn mentioned_logins(text: &str) -> Vec<String> {
    let text = strip_code(text);
    let chars: Vec<char> = text.chars().collect();
    let mut found: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i] == '@'
            && (i == 0
                || !(login_char(chars[i - 1])
                    || matches!(chars[i - 1], '_' | '/' | '.' | '@' | '`')));
        if !starts {
            i += 1;
            continue;
        }
        let begin = i + 1;
        let mut end = begin;
        while end < chars.len() && login_char(chars[end]) {
            end += 1;
        }
        let login: String = chars[begin..end].iter().collect();
        let team = chars.get(end) == Some(&'/');
        let well_formed = !login.is_empty()
            && login.len() <= 39
            && !login.starts_with('-')
            && !login.ends_with('-')
            && !login.contains("--")
            && chars.get(end).is_none_or(|c| *c != '@' && *c != '_');
        if well_formed && !team && !found.iter().any(|f| f.eq_ignore_ascii_case(&login)) {
            found.push(login);
        }
        i = end.max(i + 1);
    }
    found
}

/// Recognises links to files uploaded into issues, pull requests and comments (drag and
/// drop, paste): GitHub stores no attachment list, only these links in the Markdown.
///
/// An upload is a link (Markdown, HTML `src`/`href`, or bare) to one of
/// - `https://<web host>/user-attachments/assets/<id>` or `…/user-attachments/files/<id>/<name>`
///   (uploads since 2024);
/// - `https://<web host>/<owner>/<repo>/assets/<id>/<uuid>` and
///   `https://<web host>/<owner>/<repo>/files/<id>/<name>` (earlier uploads);
/// - `https://user-images.githubusercontent.com/…` and
///   `https://private-user-images.githubusercontent.com/…` (older images);
/// - on Enterprise Server, also `https://<server>/storage/user/…`.
///
/// The web host is `github.com` for the public API, the server's host (and github.com)
/// for Enterprise Server.
#[derive(Debug, Clone)]
pub struct Uploads {
    web_host: String,
}

impl Uploads {
    /// Uploads on `web_host`, and on github.com (an Enterprise Server's issues may quote
    /// uploads made on github.com: the writer still attached a file).
    pub fn new(web_host: &str) -> Self {
        Uploads {
            web_host: web_host.to_ascii_lowercase(),
        }
    }

    /// Whether `text` links to at least one upload.
    pub fn any_in(&self, text: &str) -> bool {
        self.count_in(text) > 0
    }

    /// How many upload links `text` holds.
    pub fn count_in(&self, text: &str) -> usize {
        let mut n = 0;
        let mut rest = text;
        while let Some(at) = rest.find("https://") {
            let from = &rest[at + "https://".len()..];
            let end = from
                .find(|c: char| {
                    c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>' | '<' | ']')
                })
                .unwrap_or(from.len());
            if self.is_upload(&from[..end]) {
                n += 1;
            }
            rest = &from[end..];
        }
        n
    }

    /// `link` without its `https://`.
    fn is_upload(&self, link: &str) -> bool {
        let Some((host, path)) = link.split_once('/') else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        if host == "user-images.githubusercontent.com"
            || host == "private-user-images.githubusercontent.com"
        {
            return path.len() > 1;
        }
        if host != self.web_host && host != "github.com" {
            return false;
        }
        let parts: Vec<&str> = path
            .split(['?', '#'])
            .next()
            .unwrap_or("")
            .split('/')
            .collect();
        match parts.as_slice() {
            ["user-attachments", "assets" | "files", id, ..] => !id.is_empty(),
            ["storage", "user", id, ..] => !id.is_empty(),
            [owner, repo, "assets" | "files", id, ..] => {
                !owner.is_empty()
                    && !repo.is_empty()
                    && !id.is_empty()
                    && id.bytes().all(|b| b.is_ascii_digit())
            }
            _ => false,
        }
    }
}

/// The keys a link convention names: each body line that starts with `prefix`
/// (case-insensitive; the rest of the line holds one or more keys) and each label that
/// starts with it.
pub fn link_keys(prefix: &str, body: Option<&str>, labels: &[&str]) -> Vec<String> {
    let prefix = prefix.trim().to_lowercase();
    let mut keys = Vec::new();
    let mut take = |s: &str| {
        let t = s.trim_start();
        if t.len() >= prefix.len()
            && t.is_char_boundary(prefix.len())
            && t[..prefix.len()].to_lowercase() == prefix
        {
            tally_http::links::split_keys(&t[prefix.len()..], &mut keys);
        }
    };
    for line in body.unwrap_or("").lines() {
        take(line);
    }
    for label in labels {
        take(label);
    }
    let mut seen = std::collections::HashSet::new();
    keys.retain(|k| seen.insert(k.clone()));
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_as_github_links_them() {
        let text = "Thanks @octocat and @Mona-Lisa!\n\
                    cc @octo-org/reviewers, mail ann@corp.example\n\
                    `@in-code` and\n```\n@in-fence\n```\n@octocat again, @-bad @bad- @x_y";
        assert_eq!(mentioned_logins(text), ["octocat", "Mona-Lisa"]);
        assert_eq!(mentioned_logins("(@hubot)"), ["hubot"]);
        assert!(mentioned_logins("no one").is_empty());
    }

    #[test]
    fn uploads_are_recognised_by_their_paths() {
        let up = Uploads::new("github.com");
        // Shapes of upload links as GitHub writes them into Markdown.
        assert!(up.any_in("![image](https://github.com/user-attachments/assets/6e8b1b1e-2c1a-4d8e-9b0a-1234567890ab)"));
        assert!(up.any_in("[log.txt](https://github.com/user-attachments/files/17234567/log.txt)"));
        assert!(up.any_in("<img src=\"https://github.com/octo-org/app/assets/583231/2f5b7a6e-81a1-4b7e-bb2c-9f2d1b2c3d4e\">"));
        assert!(up.any_in("![x](https://user-images.githubusercontent.com/583231/123-abc.png)"));
        assert!(up.any_in("see https://github.com/octo-org/app/files/1234567/trace.zip"));
        assert!(!up.any_in("https://github.com/octo-org/app/issues/3"));
        assert!(!up.any_in("https://github.com/octo-org/app/blob/main/assets/logo.png"));
        assert!(!up.any_in("https://example.com/user-attachments/assets/1"));
        assert_eq!(
            up.count_in("https://github.com/user-attachments/assets/a and https://github.com/user-attachments/assets/b"),
            2
        );
        let ghes = Uploads::new("ghe.corp.example");
        assert!(ghes.any_in("https://ghe.corp.example/storage/user/12/files/abc"));
        assert!(ghes.any_in("https://github.com/user-attachments/assets/a"));
        assert!(!ghes.any_in("https://other.example/user-attachments/assets/a"));
    }

    #[test]
    fn link_lines_and_labels() {
        let body = "Steps…\n\nJira: OPS-17, OPS-18\njira:\n";
        assert_eq!(
            link_keys("Jira:", Some(body), &["bug", "jira:OPS-19", "JIRA:OPS-17"]),
            ["OPS-17", "OPS-18", "OPS-19"]
        );
        assert!(link_keys("Jira:", None, &["bug"]).is_empty());
    }
}
