package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"slipway.dev/slipway/internal/httpapi/oapi"
	"slipway.dev/slipway/internal/slipway"
	"slipway.dev/slipway/internal/toolconfig"
)

// Causes that refine how an EInvalid error is answered (see errorResponse).
var (
	errMalformedBody        = errors.New("malformed request body")
	errUnsupportedMediaType = errors.New("unsupported media type")
)

// messages returns a ResponseMessages with the given lists; all three lists
// are always present in the JSON, as [] when empty.
func messages(info, warning, errs []string) oapi.ResponseMessages {
	orEmpty := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return oapi.ResponseMessages{Info: orEmpty(info), Warning: orEmpty(warning), Error: orEmpty(errs)}
}

// writeJSON writes v as the JSON response body with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only a bug (an unencodable type) gets here.
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"messages":{"error":["Internal error."],"info":[],"warning":[]}}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writeErrorMessages writes an error envelope (no data key) with the given
// status and messages.
func writeErrorMessages(w http.ResponseWriter, status int, msgs ...string) {
	writeJSON(w, status, oapi.ErrorEnvelope{Messages: messages(nil, nil, msgs)})
}

// writeError answers err with an error envelope; see errorResponse and
// writeErrorFor.
func (a *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, msgs := a.errorResponse(r, err)
	writeErrorFor(w, r, status, msgs...)
}

// writeErrorFor is writeErrorMessages for an answer to r: under /jobs and
// /builds the envelope also carries the messages as "error", see
// toolforgeErrorEnvelope.
func writeErrorFor(w http.ResponseWriter, r *http.Request, status int, msgs ...string) {
	if strings.HasPrefix(r.URL.Path, jobsPrefix+"/") || strings.HasPrefix(r.URL.Path, "/builds/") {
		writeJSON(w, status, toolforgeErrorEnvelope{Messages: messages(nil, nil, msgs), Error: msgs})
		return
	}
	writeErrorMessages(w, status, msgs...)
}

// toolforgeErrorEnvelope is the error envelope of the /jobs and /builds
// routes: Toolforge's jobs and builds APIs answer {"error": [msg]}, and
// their CLIs print that list (any other body raw, JSON and all;
// tjf_cli/api.py and toolforge_builds_cli build.py handle_http_exception);
// Slipway's own clients and tests read messages.error, as on every route.
// Messages comes first, so that every error body starts alike.
type toolforgeErrorEnvelope struct {
	Messages oapi.ResponseMessages `json:"messages"`
	Error    []string              `json:"error"`
}

// errorResponse maps err to an HTTP status and the messages.error list. It
// is the one place where slipway error codes become HTTP statuses, and the
// one place where internal errors are logged (with the request id); their
// cause is never sent to the client.
func (a *api) errorResponse(r *http.Request, err error) (int, []string) {
	if maxErr, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return http.StatusRequestEntityTooLarge, []string{fmt.Sprintf("Request body too large: the limit is %d bytes.", maxErr.Limit)}
	}
	msg := slipway.ErrorMessage(err)
	switch slipway.ErrorCode(err) {
	case slipway.EInvalid:
		var pe *toolconfig.ParseError
		switch {
		case errors.Is(err, slipway.ErrSourceURL):
			// Before the parse errors: a remote config's problems are in
			// the one message, which names the URL (Toolforge answers 400).
			return http.StatusBadRequest, []string{msg}
		case errors.Is(err, errMalformedBody):
			return http.StatusBadRequest, []string{msg}
		case errors.Is(err, errUnsupportedMediaType):
			return http.StatusUnsupportedMediaType, []string{msg}
		case errors.As(err, &pe) && len(pe.Problems) > 0:
			out := make([]string, len(pe.Problems))
			for i, p := range pe.Problems {
				out[i] = p.String()
			}
			return http.StatusUnprocessableEntity, out
		}
		return http.StatusUnprocessableEntity, []string{msg}
	case slipway.ENotFound:
		return http.StatusNotFound, []string{msg}
	case slipway.EConflict:
		return http.StatusConflict, []string{msg}
	case slipway.EUnauthorized:
		return http.StatusUnauthorized, []string{msg}
	case slipway.EForbidden:
		return http.StatusForbidden, []string{msg}
	case slipway.EUnavailable:
		return http.StatusServiceUnavailable, []string{msg}
	}
	a.log.ErrorContext(r.Context(), "internal error",
		"request_id", requestIDFrom(r.Context()), "method", r.Method, "path", r.URL.Path, "err", err)
	return http.StatusInternalServerError, []string{"Internal error."}
}

// readBody reads the request body, at most MaxBodyBytes of it; a larger body
// gives an error that errorResponse answers with 413.
func (a *api) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return readBodyMax(w, r, a.cfg.MaxBodyBytes)
}

// readBodyMax is readBody with a limit of its own.
func readBodyMax(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, err
		}
		return nil, &slipway.Error{Code: slipway.EInvalid, Message: "Cannot read the request body.", Err: errors.Join(errMalformedBody, err)}
	}
	return body, nil
}

// decodeJSON decodes the JSON body into v: a malformed body is EInvalid with
// errMalformedBody (400), a well-formed body of the wrong shape is EInvalid
// (422).
func decodeJSON(body []byte, v any) error {
	err := json.Unmarshal(body, v)
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &syn):
		line, col := lineColumn(body, syn.Offset)
		return &slipway.Error{
			Code:    slipway.EInvalid,
			Message: fmt.Sprintf("Invalid JSON at line %d, column %d: %s.", line, col, syn.Error()),
			Err:     errors.Join(errMalformedBody, err),
		}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &slipway.Error{Code: slipway.EInvalid, Message: "Invalid JSON: unexpected end of input.", Err: errors.Join(errMalformedBody, err)}
	case errors.As(err, &typ):
		where := "the request body"
		if typ.Field != "" {
			where = typ.Field
		}
		return &slipway.Error{
			Code:    slipway.EInvalid,
			Message: fmt.Sprintf("Invalid value for %s: expected %s, got a JSON %s.", where, typ.Type, typ.Value),
			Err:     err,
		}
	}
	return &slipway.Error{Code: slipway.EInvalid, Message: "Invalid JSON body.", Err: errors.Join(errMalformedBody, err)}
}

// lineColumn returns the 1-based line and column of byte offset off in b.
func lineColumn(b []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(b)))
	before := b[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = max(int(off)-(bytes.LastIndexByte(before, '\n')+1), 1)
	return line, col
}

// toolName returns the {tool} path value, or an EInvalid error (422) when it
// is not a valid tool name.
func toolName(r *http.Request) (string, error) {
	tool := r.PathValue("tool")
	if err := slipway.ValidateToolName(tool); err != nil {
		return "", err
	}
	return tool, nil
}
