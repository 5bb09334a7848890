package web

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/sse"
)

// Questions is what the UI needs of the deploy service's questions
// (deploy.Questions). Who may see and answer comes from the actor of the
// context; errors are [*slipway.Error] values: ENotFound for an unknown
// question, EForbidden with the reason when the actor may not answer,
// EConflict naming who answered first, EInvalid for a bad answer.
type Questions interface {
	// QuestionList returns tool's questions ("" every tool the actor may
	// see), newest first, narrowed by state and deployment when set.
	QuestionList(ctx context.Context, tool string, state slipway.QuestionState, deploymentID string) ([]slipway.Question, error)
	// QuestionGet returns one question (the UI never waits: wait is 0).
	QuestionGet(ctx context.Context, tool, id string, wait time.Duration) (slipway.Question, error)
	// QuestionAnswer answers as the actor of ctx.
	QuestionAnswer(ctx context.Context, tool, id string, a slipway.Answer) (slipway.Question, error)
	// QuestionLog returns a question's audit log, oldest first.
	QuestionLog(ctx context.Context, tool, id string) ([]slipway.QuestionLogEntry, error)
}

// noQuestions is the Questions of a UI configured without them.
type noQuestions struct{}

func (noQuestions) QuestionList(context.Context, string, slipway.QuestionState, string) ([]slipway.Question, error) {
	return nil, nil
}

func (noQuestions) QuestionGet(_ context.Context, tool, id string, _ time.Duration) (slipway.Question, error) {
	return slipway.Question{}, slipway.Errorf(slipway.ENotFound, "Question %s not found for tool %s", id, tool)
}

func (noQuestions) QuestionAnswer(_ context.Context, tool, id string, _ slipway.Answer) (slipway.Question, error) {
	return slipway.Question{}, slipway.Errorf(slipway.ENotFound, "Question %s not found for tool %s", id, tool)
}

func (noQuestions) QuestionLog(_ context.Context, tool, id string) ([]slipway.QuestionLogEntry, error) {
	return nil, slipway.Errorf(slipway.ENotFound, "Question %s not found for tool %s", id, tool)
}

// Where an answer form sends its answerer back to (the form's "back").
const (
	backDeployment = "deployment"
	backQuestion   = "question"
	backInbox      = "inbox"
)

// maxRadios is the most options shown as buttons; more are radios.
const maxButtons = 6

// questionView is the data of a question card.
type questionView struct {
	Q slipway.Question
	// P prefixes the card's element ids, unique on its page:
	// q-<id>-<where>.
	P string
	// Back is where the answer form returns (backDeployment, …).
	Back string
	CSRF string
	// Why says why this session may not answer; "" when it may.
	Why string
	Now time.Time
	Log []slipway.QuestionLogEntry
	// LogOpen shows the log unfolded (the question's own page).
	LogOpen bool
	// Inbox names the tool and links the question's page.
	Inbox bool
	// Form is what was typed, with the problem, after an answer that
	// was refused as invalid (422).
	Form *answerForm
}

// answerForm is an answer that was not taken, to show again.
type answerForm struct {
	Problem string
	Value   string
	Comment string
	Fields  map[string]string
}

// Radios reports whether the options are radios in a fieldset (more than
// six) rather than one button each.
func (v questionView) Radios() bool { return len(v.Q.Options) > maxButtons }

// FieldValue is what a field shows: what was typed, else its default.
func (v questionView) FieldValue(f slipway.QuestionField) string {
	if v.Form != nil {
		if s, ok := v.Form.Fields[f.Key]; ok {
			return s
		}
	}
	return f.Default
}

// Chosen reports whether option value is the one preselected: what was
// chosen, else the default.
func (v questionView) Chosen(value string) bool {
	if v.Form != nil && v.Form.Value != "" {
		return v.Form.Value == value
	}
	return v.Q.Default == value
}

// Comment is the comment typed before a refused answer.
func (v questionView) Comment() string {
	if v.Form == nil {
		return ""
	}
	return v.Form.Comment
}

// Deadline describes the deadline, relative to now.
func (v questionView) Deadline() string { return relative(v.Now, v.Q.DeadlineAt) }

// Who says who may answer and how many answers are needed.
func (v questionView) Who() string {
	q := v.Q
	who := q.Policy.Answerers
	if len(who) == 0 {
		who = []string{"tool"}
	}
	var names []string
	for _, w := range who {
		switch w {
		case "tool":
			names = append(names, "anyone signed in for tool "+q.Tool)
		case "admin":
		default:
			names = append(names, w)
		}
	}
	s := strings.Join(names, ", ")
	if s != "" {
		s += " and "
	}
	s += "the admin (always, audited)"
	if q.Required() > 1 {
		s += fmt.Sprintf("; %d answers from different people are needed, %d so far", q.Required(), len(q.Approvals))
		if len(q.Approvals) > 0 {
			s += " (" + strings.Join(q.Approvals, ", ") + ")"
		}
	}
	if q.Policy.ForbidInitiator {
		s += "; not who started the deployment"
		if q.Initiator != "" {
			s += " (" + q.Initiator + ")"
		}
	}
	return s + "."
}

// Outcome describes a settled question.
func (v questionView) Outcome() string { return settledText(v.Q) }

// settledText says how q was settled: "answered "continue" by X at T".
func settledText(q slipway.Question) string {
	at := q.SettledAt.UTC().Format("2006-01-02 15:04:05 UTC")
	switch q.State {
	case slipway.QuestionOpen:
		return "open"
	case slipway.QuestionExpired:
		return "expired without an answer at " + at
	case slipway.QuestionCancelled:
		return "cancelled at " + at + cmp.Or(": "+q.Comment, "")
	case slipway.QuestionAnswered, slipway.QuestionRejected:
	}
	return fmt.Sprintf("%s “%s” by %s at %s", q.State, q.Value, q.SettledBy, at)
}

// relative describes t seen from now: "in 2 h 5 min", "3 min ago".
func relative(now, t time.Time) string {
	d := t.Sub(now)
	later := d >= 0
	if !later {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		return "now"
	case d < time.Hour:
		s = strconv.Itoa(int(d/time.Minute)) + " min"
	case d < 48*time.Hour:
		s = strconv.Itoa(int(d/time.Hour)) + " h"
		if m := int(d % time.Hour / time.Minute); m > 0 {
			s += " " + strconv.Itoa(m) + " min"
		}
	default:
		s = strconv.Itoa(int(d/(24*time.Hour))) + " days"
	}
	if later {
		return "in " + s
	}
	return s + " ago"
}

// whyNot says why the session may not answer q; "" when it may.
func whyNot(q slipway.Question, s session) string {
	if q.State.Final() {
		return ""
	}
	a := s.actor()
	if why := q.MayAnswer(a); why != "" {
		return "You cannot answer: " + why + "."
	}
	if slices.Contains(q.Approvals, a.Name) {
		return "You answered already; it needs answers from " + strconv.Itoa(q.Required()-len(q.Approvals)) + " more people."
	}
	return ""
}

// cardsView is the questions of a deployment page: the open ones as cards
// at the top and at the bottom (the prompt is never off-screen), the
// settled ones as an audit list.
type cardsView struct {
	Top, Bottom, Settled []questionView
	// Announce, on a card sent live, is what app.js reads out.
	Announce string
}

// questionCards reads the questions of deployment id with their logs.
func (h *handler) questionCards(ctx context.Context, tool, id string, forms map[string]*answerForm) (cardsView, error) {
	var v cardsView
	qs, err := h.cfg.Questions.QuestionList(ctx, tool, "", id)
	if err != nil {
		return v, err
	}
	s, _ := sessionOf(ctx)
	now := h.cfg.Now()
	slices.SortFunc(qs, func(a, b slipway.Question) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, q := range qs {
		log, err := h.cfg.Questions.QuestionLog(ctx, tool, q.ID)
		if err != nil {
			return v, err
		}
		qv := questionView{Q: q, Back: backDeployment, CSRF: s.CSRFSecret, Why: whyNot(q, s), Now: now, Log: log, Form: forms[q.ID]}
		if q.State.Final() {
			qv.P = q.ID + "-done"
			v.Settled = append(v.Settled, qv)
			continue
		}
		top, bottom := qv, qv
		top.P, bottom.P = q.ID+"-top", q.ID+"-bottom"
		v.Top, v.Bottom = append(v.Top, top), append(v.Bottom, bottom)
	}
	return v, nil
}

func (h *handler) badQuestionID(w http.ResponseWriter, r *http.Request, id string) {
	h.errorPage(w, r, http.StatusNotFound, "There is no question "+strconv.Quote(clip(id, 64))+": question IDs look like q-0123456789abcdef.")
}

// questionPage serves GET /ui/t/{tool}/q/{id}: the card, the log, and a
// link to the deployment.
func (h *handler) questionPage(w http.ResponseWriter, r *http.Request) {
	h.showQuestion(w, r, http.StatusOK, nil)
}

func (h *handler) showQuestion(w http.ResponseWriter, r *http.Request, status int, form *answerForm) {
	ctx, tool, id := r.Context(), r.PathValue("tool"), r.PathValue("id")
	if !slipway.IsQuestionID(id) {
		h.badQuestionID(w, r, id)
		return
	}
	q, err := h.cfg.Questions.QuestionGet(ctx, tool, id, 0)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	log, err := h.cfg.Questions.QuestionLog(ctx, tool, id)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	s, _ := sessionOf(ctx)
	qv := questionView{Q: q, P: q.ID, Back: backQuestion, CSRF: s.CSRFSecret, Why: whyNot(q, s), Now: h.cfg.Now(), Log: log, LogOpen: true, Form: form}
	h.render(w, r, status, "question", view{
		Title: "Question " + q.ID, Tool: tool, Section: "questions", Flash: h.takeFlash(w, r),
		Data: qv,
	})
}

// inbox serves GET /ui/questions: the open questions of every tool the
// session sees, to answer where they are.
func (h *handler) inbox(w http.ResponseWriter, r *http.Request) {
	h.showInbox(w, r, http.StatusOK, nil)
}

// inboxView is the inbox's data.
type inboxView struct {
	Cards []questionView
	// Announce, on a list sent live, is what app.js reads out.
	Announce string
}

func (h *handler) showInbox(w http.ResponseWriter, r *http.Request, status int, forms map[string]*answerForm) {
	v, err := h.inboxCards(r.Context(), forms)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	h.render(w, r, status, "inbox", view{
		Title: "Questions", Section: "questions", Live: "/ui/questions/live", Flash: h.takeFlash(w, r), Data: v,
	})
}

// inboxCards reads the open questions the session sees.
func (h *handler) inboxCards(ctx context.Context, forms map[string]*answerForm) (inboxView, error) {
	var v inboxView
	qs, err := h.cfg.Questions.QuestionList(ctx, "", slipway.QuestionOpen, "")
	if err != nil {
		return v, err
	}
	s, _ := sessionOf(ctx)
	now := h.cfg.Now()
	for _, q := range qs {
		v.Cards = append(v.Cards, questionView{
			Q: q, P: q.ID + "-inbox", Back: backInbox, CSRF: s.CSRFSecret, Why: whyNot(q, s), Now: now, Inbox: true, Form: forms[q.ID],
		})
	}
	return v, nil
}

// inboxKey identifies what the inbox shows: the open questions and their
// answers so far.
func inboxKey(v inboxView) string {
	var b strings.Builder
	for _, c := range v.Cards {
		b.WriteString(c.Q.ID)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(len(c.Q.Approvals)))
		b.WriteByte(' ')
	}
	return b.String()
}

// inboxLive serves GET /ui/questions/live: the inbox's list, and the
// header's link with its count, again whenever the list changes (a
// question opened, answered, settled), read every InboxPoll; the first
// message is the list as it is.
func (h *handler) inboxLive(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s := sse.Start(w, h.cfg.KeepAlive)
	defer s.Close()
	tick := time.NewTicker(h.cfg.InboxPoll)
	defer tick.Stop()
	last, seq := "\x00", 0
	seen := map[string]bool{}
	for {
		v, err := h.inboxCards(ctx, nil)
		if err != nil {
			if ctx.Err() == nil {
				h.log.ErrorContext(ctx, "web: inbox", "err", err)
			}
			return
		}
		if key := inboxKey(v); key != last {
			var fresh []string
			for _, c := range v.Cards {
				if !seen[c.Q.ID] && last != "\x00" {
					fresh = append(fresh, firstLine(c.Q.Prompt))
				}
				seen[c.Q.ID] = true
			}
			if len(fresh) > 0 {
				v.Announce = "Question waiting: " + clip(strings.Join(fresh, "; "), 200)
			}
			var b strings.Builder
			err := h.pages.fragments.ExecuteTemplate(&b, "inbox_list", v)
			if err == nil {
				// The header's count follows the list.
				b.WriteString(fragmentSep)
				err = h.pages.fragments.ExecuteTemplate(&b, "questions_link", questionsLinkView{Open: len(v.Cards), Current: true})
			}
			if err != nil {
				h.log.ErrorContext(ctx, "web: render inbox", "err", err)
				return
			}
			seq++
			if s.Write(sse.Message(strconv.Itoa(seq), "", b.String())) != nil {
				return
			}
			last = key
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// firstLine returns a prompt's first non-empty line, without markdown's
// ** and `.
func firstLine(s string) string {
	for line := range strings.SplitSeq(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return strings.NewReplacer("**", "", "`", "").Replace(line)
		}
	}
	return s
}

// answer serves POST /ui/t/{tool}/q/{id}/answer: the answer of the
// session's credential, from the ui. It goes back (303) to the page the
// form was on with the result as a flash message: recorded, already
// answered (409), not allowed (403). An invalid answer (422) shows that
// page again with the problem next to the form and what was typed.
func (h *handler) answer(w http.ResponseWriter, r *http.Request) {
	ctx, tool, id := r.Context(), r.PathValue("tool"), r.PathValue("id")
	if !slipway.IsQuestionID(id) {
		h.badQuestionID(w, r, id)
		return
	}
	if !h.parseForm(w, r) {
		return
	}
	q, err := h.cfg.Questions.QuestionGet(ctx, tool, id, 0)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	form := r.PostForm
	a := slipway.Answer{Value: form.Get("value"), Comment: strings.ReplaceAll(form.Get("comment"), "\r\n", "\n"), Source: "ui"}
	typed := &answerForm{Value: a.Value, Comment: a.Comment, Fields: map[string]string{}}
	if len(q.Fields) > 0 {
		for _, f := range q.Fields {
			vs := form["f."+f.Key]
			if len(vs) == 0 {
				continue
			}
			typed.Fields[f.Key] = vs[len(vs)-1] // a checkbox sends false, then true when checked
		}
		if a.Value == "" {
			a.Fields = typed.Fields
		}
	}
	back := "/ui/t/" + tool + "/d/" + q.DeploymentID
	switch {
	case form.Get("back") == backInbox:
		back = "/ui/questions"
	case form.Get("back") == backQuestion || q.DeploymentID == "": // a scheduled run's has no deployment page
		back = "/ui/t/" + tool + "/q/" + q.ID
	}
	sess, _ := sessionOf(ctx)
	got, err := h.cfg.Questions.QuestionAnswer(ctx, tool, id, a) // ctx carries the session's actor
	switch slipway.ErrorCode(err) {
	case "":
		msg := fmt.Sprintf("Your answer “%s” to question %s was recorded: %s.", got.Value, got.ID, settledText(got))
		if !got.State.Final() {
			msg = fmt.Sprintf("Your answer to question %s was recorded: %d of %d answers so far.", got.ID, len(got.Approvals), got.Required())
		}
		h.setFlash(w, r, sess, "ok", msg)
	case slipway.EConflict:
		msg := slipway.ErrorMessage(err)
		if now, gerr := h.cfg.Questions.QuestionGet(ctx, tool, id, 0); gerr == nil && now.State.Final() {
			switch now.State {
			case slipway.QuestionAnswered, slipway.QuestionRejected:
				msg = fmt.Sprintf("Already answered “%s” by %s at %s: your answer was not recorded.", now.Value, now.SettledBy, now.SettledAt.UTC().Format("2006-01-02 15:04:05 UTC"))
			default:
				msg = "Too late: the question was " + settledText(now) + ". Your answer was not recorded."
			}
		}
		h.setFlash(w, r, sess, "error", msg)
	case slipway.EForbidden:
		h.setFlash(w, r, sess, "error", slipway.ErrorMessage(err))
	case slipway.EInvalid:
		typed.Problem = slipway.ErrorMessage(err)
		forms := map[string]*answerForm{q.ID: typed}
		switch form.Get("back") {
		case backQuestion:
			h.showQuestion(w, r, http.StatusUnprocessableEntity, typed)
		case backInbox:
			h.showInbox(w, r, http.StatusUnprocessableEntity, forms)
		default:
			if q.DeploymentID == "" {
				h.showQuestion(w, r, http.StatusUnprocessableEntity, typed)
				return
			}
			r.SetPathValue("id", q.DeploymentID)
			h.showDeployment(w, r, http.StatusUnprocessableEntity, forms)
		}
		return
	default:
		h.serviceError(w, r, err)
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// flash is a message the next page shows once: the result of an action
// that redirected there.
type flash struct {
	// Kind is ok or error.
	Kind string
	Text string
}

// flashCookie carries a flash to the next page; it is signed with the
// session's CSRF secret, so a page shows only flashes this server made
// for this session.
const (
	flashCookie    = "slipway_flash"
	flashCookieTLS = "__Host-slipway_flash"
	flashMaxAge    = 60
)

func flashMAC(secret, payload string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("flash\n" + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// setFlash makes the next page of the session show text.
func (h *handler) setFlash(w http.ResponseWriter, r *http.Request, s session, kind, text string) {
	payload := kind + "\n" + clip(text, 600)
	setCookie(w, r, cookieName(r, flashCookie, flashCookieTLS),
		base64.RawURLEncoding.EncodeToString([]byte(payload))+"."+flashMAC(s.CSRFSecret, payload), flashMaxAge)
}

// takeFlash returns the request's flash, if it carries a good one, and
// deletes it.
func (h *handler) takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	name := cookieName(r, flashCookie, flashCookieTLS)
	c, err := r.Cookie(name)
	if err != nil {
		return nil
	}
	setCookie(w, r, name, "", -1)
	s, ok := sessionOf(r.Context())
	enc, mac, found := strings.Cut(c.Value, ".")
	if !ok || !found {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || !hmac.Equal([]byte(mac), []byte(flashMAC(s.CSRFSecret, string(b)))) {
		return nil
	}
	kind, text, _ := strings.Cut(string(b), "\n")
	return &flash{Kind: kind, Text: text}
}

// logLine describes one entry of a question's log.
func logLine(e slipway.QuestionLogEntry) string {
	var b strings.Builder
	switch e.Kind {
	case slipway.LogOpened:
		b.WriteString("asked")
	case slipway.LogAnswer:
		fmt.Fprintf(&b, "%s answered “%s”", e.Actor, e.Value)
	case slipway.LogRefused:
		fmt.Fprintf(&b, "refused: %s tried to answer “%s”", e.Actor, e.Value)
	case slipway.LogSettled, slipway.LogExpired, slipway.LogCancelled:
		b.WriteString(string(e.Kind))
		if e.Actor != "" {
			b.WriteString(" by " + e.Actor)
		}
	default:
		b.WriteString(string(e.Kind))
	}
	if e.Source != "" {
		b.WriteString(" (from " + e.Source + ")")
	}
	if e.Reason != "" {
		b.WriteString(": " + e.Reason)
	}
	if e.Comment != "" {
		b.WriteString(" — comment: " + clip(e.Comment, 500))
	}
	return b.String()
}
