//! A self-contained HTML page: every picture embedded as a data URI, so the page is one file
//! that opens anywhere, offline, and can be sent on as is.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// An HTML page under construction.
#[derive(Debug, Default)]
pub struct Page {
    body: String,
}

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

impl Page {
    /// A heading of `level` (1-3).
    pub fn heading(&mut self, level: u8, text: &str) {
        let _ = writeln!(self.body, "<h{level}>{}</h{level}>", escape(text));
    }

    /// A paragraph of text (escaped).
    pub fn paragraph(&mut self, text: &str) {
        let _ = writeln!(self.body, "<p>{}</p>", escape(text));
    }

    /// A two-column table of (name, value) rows.
    pub fn table(&mut self, rows: &[(String, String)]) {
        self.body.push_str("<table>\n");
        for (k, v) in rows {
            let _ = writeln!(self.body, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v));
        }
        self.body.push_str("</table>\n");
    }

    /// A table with a header row and one row per entry of `rows`.
    pub fn columns(&mut self, header: &[&str], rows: &[Vec<String>]) {
        self.body.push_str("<table>\n<tr>");
        for h in header {
            let _ = write!(self.body, "<th>{}</th>", escape(h));
        }
        self.body.push_str("</tr>\n");
        for row in rows {
            self.body.push_str("<tr>");
            for cell in row {
                let _ = write!(self.body, "<td>{}</td>", escape(cell));
            }
            self.body.push_str("</tr>\n");
        }
        self.body.push_str("</table>\n");
    }

    /// A row of figures: each a file (PNG or GIF) embedded with its caption. A small picture
    /// (a 32 px scan) is shown enlarged by a whole factor, its pixels kept sharp.
    pub fn figures(&mut self, items: &[(&Path, String)]) -> anyhow::Result<()> {
        self.body.push_str("<div class=\"row\">\n");
        for (path, caption) in items {
            let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let mime = if path.extension().is_some_and(|e| e == "gif") { "image/gif" } else { "image/png" };
            let (width, _) = image::ImageReader::new(std::io::Cursor::new(&bytes))
                .with_guessed_format()?
                .into_dimensions()
                .with_context(|| format!("reading the size of {}", path.display()))?;
            let _ = writeln!(
                self.body,
                "<figure><img src=\"data:{mime};base64,{}\" width=\"{}\" alt=\"{c}\"><figcaption>{c}</figcaption></figure>",
                STANDARD.encode(bytes),
                display_width(width),
                c = escape(caption)
            );
        }
        self.body.push_str("</div>\n");
        Ok(())
    }

    /// Writes the page with `title` to `path`.
    pub fn write(&self, path: &Path, title: &str) -> anyhow::Result<()> {
        let html = format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{t}</title><style>{STYLE}</style></head>\n<body>\n{}</body></html>\n",
            self.body,
            t = escape(title)
        );
        crate::files::write(path, html)
    }
}

/// The least width, in CSS pixels, a picture is shown at.
const MIN_DISPLAY_WIDTH: u32 = 160;

/// The width to show a picture `width` pixels wide at: the smallest whole multiple of it that
/// reaches [`MIN_DISPLAY_WIDTH`] (so every pixel becomes a square of equal size), else its own.
fn display_width(width: u32) -> u32 {
    width.max(1) * MIN_DISPLAY_WIDTH.div_ceil(width.max(1))
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 10px;text-align:left}\
th{background:#f4f4f4;font-weight:normal}.row{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}\
figure{margin:0}figure img{max-width:100%;image-rendering:pixelated}figcaption{font-size:13px;color:#555}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_embeds_pictures_and_escapes_text() {
        let dir = std::env::temp_dir().join(format!("daecf-html-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        image::RgbImage::new(32, 32).save(dir.join("a.png")).unwrap();
        let mut page = Page::default();
        page.heading(1, "<demo>");
        page.table(&[("AUC".into(), "0.95".into())]);
        page.columns(&["head", "share"], &[vec!["k <1>".into(), "50 %".into()]]);
        page.figures(&[(&dir.join("a.png"), "a & b".into())]).unwrap();
        page.write(&dir.join("index.html"), "t").unwrap();
        let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
        assert!(
            html.contains("&lt;demo&gt;") && html.contains("data:image/png;base64,iVBOR") && html.contains("a &amp; b")
        );
        assert!(html.contains("width=\"160\""), "a 32 px picture shown five times as large");
        assert!(html.contains("<th>share</th>") && html.contains("<td>k &lt;1&gt;</td>"), "{html}");
        assert_eq!((display_width(32), display_width(50), display_width(192)), (160, 200, 192));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
