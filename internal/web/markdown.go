package web

import (
	"html/template"
	"strings"
)

// markdown renders a question's prompt: a tiny subset of markdown, from
// text that is escaped first, so that no HTML of the prompt's ever
// reaches the page. Blank lines separate paragraphs, a line break is a
// <br>, `code` is code (nothing inside it is formatted) and **text** is
// bold. Everything else is shown as written.
func markdown(s string) template.HTML {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	for para := range strings.SplitSeq(s, "\n\n") {
		para = strings.Trim(para, "\n")
		if strings.TrimSpace(para) == "" {
			continue
		}
		b.WriteString("<p>")
		for i, line := range strings.Split(para, "\n") {
			if i > 0 {
				b.WriteString("<br>")
			}
			inline(&b, printable(line))
		}
		b.WriteString("</p>")
	}
	return template.HTML(b.String()) //nolint:gosec // every text is escaped by inline; the tags are our own
}

// inline writes one line: `code` spans first, then **bold** outside them,
// every text escaped.
func inline(b *strings.Builder, line string) {
	for line != "" {
		open := strings.IndexByte(line, '`')
		if open < 0 {
			bold(b, line)
			return
		}
		end := strings.IndexByte(line[open+1:], '`')
		if end < 0 {
			bold(b, line)
			return
		}
		bold(b, line[:open])
		b.WriteString("<code>")
		b.WriteString(template.HTMLEscapeString(line[open+1 : open+1+end]))
		b.WriteString("</code>")
		line = line[open+1+end+1:]
	}
}

// bold writes text with its **pairs** as <strong>, escaped.
func bold(b *strings.Builder, text string) {
	for {
		open := strings.Index(text, "**")
		if open < 0 {
			break
		}
		end := strings.Index(text[open+2:], "**")
		if end <= 0 {
			break
		}
		b.WriteString(template.HTMLEscapeString(text[:open]))
		b.WriteString("<strong>")
		b.WriteString(template.HTMLEscapeString(text[open+2 : open+2+end]))
		b.WriteString("</strong>")
		text = text[open+2+end+2:]
	}
	b.WriteString(template.HTMLEscapeString(text))
}
