//! Apple's `content` prose as rustdoc: Markdown that rustdoc neither links (`[`, `]`), parses
//! as HTML (`<`, `>`) nor compiles (indented or fenced blocks become plain text); bare URLs
//! are wrapped so rustdoc does not warn.

/// Doc-comment lines (without the `///`) for `text`.
pub fn lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for raw in text.trim().lines() {
        let line = raw.trim();
        if line.starts_with("```") {
            out.push(if fenced { "```" } else { "```text" }.to_owned());
            fenced = !fenced;
            continue;
        }
        if fenced {
            out.push(line.to_owned());
        } else {
            // A line after a list item that is not one starts a paragraph of its own.
            if !line.is_empty()
                && !is_list_item(line)
                && out.last().is_some_and(|prev| is_list_item(prev))
            {
                out.push(String::new());
            }
            out.push(prose(line));
        }
    }
    if fenced {
        out.push("```".to_owned());
    }
    // No trailing blank lines, no runs of blank lines.
    out.dedup_by(|a, b| a.is_empty() && b.is_empty());
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out
}

/// `* …`, `- …`, `+ …` or `1. …`.
fn is_list_item(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with("* ")
        || line.starts_with("- ")
        || line.starts_with("+ ")
        || line
            .split_once(". ")
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// One line of prose: escapes, `'code'` as `` `code` ``, URLs in angle brackets.
fn prose(line: &str) -> String {
    let mut escaped = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '[' => escaped.push_str("\\["),
            ']' => escaped.push_str("\\]"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '`' => escaped.push('\''),
            '\\' => escaped.push_str("\\\\"),
            '*' if !escaped.trim().is_empty() => escaped.push_str("\\*"),
            '_' => escaped.push_str("\\_"),
            '|' => escaped.push_str("\\|"),
            _ => escaped.push(c),
        }
    }
    let quoted = code_quotes(&escaped);
    wrap_urls(&quoted)
}

/// `'true'` → `` `true` `` where the quotes delimit one token (not an apostrophe).
fn code_quotes(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        let opens = chars[i] == '\''
            && (i == 0 || matches!(chars[i - 1], ' ' | '(' | '"' | '/'))
            && chars.get(i + 1).is_some_and(|c| !c.is_whitespace());
        if opens && let Some(len) = chars[i + 1..].iter().position(|&c| c == '\'') {
            let end = i + 1 + len;
            let closes = chars.get(end + 1).is_none_or(|c| {
                matches!(c, ' ' | '.' | ',' | ';' | ':' | ')' | '"' | '/' | '!' | '?')
            });
            if len > 0 && closes {
                out.push('`');
                // Inside code spans, Markdown escapes are literal: undo ours.
                let inner: String = chars[i + 1..end].iter().collect();
                out.push_str(&unescape(&inner));
                out.push('`');
                i = end + 1;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn unescape(text: &str) -> String {
    text.replace("\\[", "[")
        .replace("\\]", "]")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("\\_", "_")
        .replace("\\*", "*")
        .replace("\\|", "|")
        .replace("\\\\", "\\")
}

/// `https://…` → `<https://…>` (outside code spans).
fn wrap_urls(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 4);
    let mut in_code = false;
    let mut rest = line;
    while !rest.is_empty() {
        if let Some(stripped) = rest.strip_prefix('`') {
            in_code = !in_code;
            out.push('`');
            rest = stripped;
            continue;
        }
        if !in_code && (rest.starts_with("https://") || rest.starts_with("http://")) {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == ')' || c == '`')
                .unwrap_or(rest.len());
            let url = rest[..end].trim_end_matches(['.', ',', ';', ':']);
            out.push('<');
            out.push_str(&url.replace("\\_", "_"));
            out.push('>');
            rest = &rest[url.len()..];
            continue;
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// The first sentence of `text` (for one-line summaries), escaped like [`lines`].
pub fn summary(text: &str) -> String {
    let first = text.trim().lines().next().unwrap_or_default();
    let end = first
        .match_indices(". ")
        .next()
        .map_or(first.len(), |(i, _)| i + 1);
    prose(&first[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_is_escaped() {
        assert_eq!(
            lines("If 'true', the device's [array] of <string> at https://x.example/a_b."),
            ["If `true`, the device's \\[array\\] of &lt;string&gt; at <https://x.example/a_b>."]
        );
        assert_eq!(
            lines("    indented\n\n\n```\ncode <x>\n```"),
            ["indented", "", "```text", "code <x>", "```"]
        );
        assert_eq!(lines("* '1': Lock screen"), ["* `1`: Lock screen"]);
        assert_eq!(summary("First one. Second."), "First one.");
    }
}
