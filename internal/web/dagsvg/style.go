package dagsvg

// Style is the CSS for the drawing, for the page's stylesheet (WriteSVG
// writes none: a strict CSP would block an inline one). Each state has a
// colour with a contrast of at least 4.5:1 on white (WCAG AA), an icon, and,
// for some, a border pattern, so that a state is never told by colour alone:
// pending ○ dashed, running ▷ thick, done ✓, unchanged =, failed ✕ thick,
// skipped » dotted, cancelled ⊘ dotted, timed_out (a clock) thick. A state
// it does not know is drawn as pending, in grey, with a solid border.
const Style = `.dag{max-width:100%;height:auto}
.dag .edge{fill:none;stroke:#6e7781;stroke-width:1.5}
.dag .arrow{fill:#6e7781}
.dag .node{color:#57606a}
.dag .node rect{fill:#fff;stroke:currentColor;stroke-width:1.5}
.dag .node text{fill:#1f2328;font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.dag .node text.sub{fill:#57606a;font:11px system-ui,sans-serif}
.dag .node svg{fill:none;stroke:currentColor;stroke-width:2;stroke-linecap:round;stroke-linejoin:round}
.dag .state-pending rect{stroke-dasharray:4 3}
.dag .state-running{color:#0550ae}
.dag .state-running rect{stroke-width:3}
.dag .state-running svg{fill:currentColor}
.dag .state-running use{transform:translateY(-16px)}
.dag .state-done{color:#1a7f37}
.dag .state-done use{transform:translateY(-32px)}
.dag .state-unchanged{color:#0f6e6e}
.dag .state-unchanged use{transform:translateY(-48px)}
.dag .state-failed{color:#cf222e}
.dag .state-failed rect{stroke-width:3}
.dag .state-failed use{transform:translateY(-64px)}
.dag .state-skipped{color:#6e7781}
.dag .state-skipped rect{stroke-dasharray:1 3}
.dag .state-skipped use{transform:translateY(-80px)}
.dag .state-cancelled{color:#8a4600}
.dag .state-cancelled rect{stroke-dasharray:1 3}
.dag .state-cancelled use{transform:translateY(-96px)}
.dag .state-timed_out{color:#953800}
.dag .state-timed_out rect{stroke-width:3}
.dag .state-timed_out use{transform:translateY(-112px)}
`
