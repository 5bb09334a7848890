package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"slipway.dev/slipway/internal/apiclient/oapiclient"
)

// The wire forms of the questions API (/interactions/v1).
type (
	// Question is a question as the API sends it.
	Question = oapiclient.Question
	// QuestionOption is one answer of a question to choose.
	QuestionOption = oapiclient.QuestionOption
	// QuestionField is one value a question asks for.
	QuestionField = oapiclient.QuestionField
	// QuestionLogEntry is one record of a question's audit log.
	QuestionLogEntry = oapiclient.QuestionLogEntry
	// AskRequest is what a step's process asks.
	AskRequest = oapiclient.AskRequest
	// AnswerRequest is an answer.
	AnswerRequest = oapiclient.AnswerRequest
	// QuestionFieldType is text, select or boolean.
	QuestionFieldType = oapiclient.QuestionFieldType
	// AskOnTimeout says what a question's deadline does.
	AskOnTimeout = oapiclient.AskRequestOnTimeout
)

// AskOnTimeoutDefault makes the deadline take the default answer.
const AskOnTimeoutDefault = oapiclient.AskRequestOnTimeoutDefault

// QuestionList returns the tool's questions, newest first, in state
// ("" every state) and of deployment ("" every one); tool "" lists those
// of every tool the credential may see.
func (c *Client) QuestionList(ctx context.Context, tool, state, deployment string) (Envelope, error) {
	if tool == "" {
		p := &oapiclient.ListMyQuestionsParams{}
		if state != "" {
			p.State = new(oapiclient.ListMyQuestionsParamsState(state))
		}
		return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.ListMyQuestions(ctx, p) })
	}
	p := &oapiclient.ListQuestionsParams{}
	if state != "" {
		p.State = new(oapiclient.ListQuestionsParamsState(state))
	}
	if deployment != "" {
		p.Deployment = &deployment
	}
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.ListQuestions(ctx, tool, p) })
}

// QuestionAsk asks a question for the step of the client's ask token:
// status 201 for a new question, 200 for the one asked before with the
// same key.
func (c *Client) QuestionAsk(ctx context.Context, tool string, req AskRequest) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.AskQuestion(ctx, tool, req) })
}

// QuestionGet returns one question; with wait > 0 the server answers once
// it is settled or wait has passed (a long poll: the request may take
// wait and then some, whatever the client's timeout).
func (c *Client) QuestionGet(ctx context.Context, tool, id string, wait time.Duration) (Envelope, error) {
	p := &oapiclient.GetQuestionParams{}
	timeout := c.timeout
	if wait > 0 {
		p.Wait = new(wait.String())
		if timeout > 0 {
			timeout = max(timeout, wait+30*time.Second)
		}
	}
	return c.sendWithin(ctx, timeout, func(ctx context.Context) (*http.Response, error) { return c.raw.GetQuestion(ctx, tool, id, p) })
}

// QuestionAnswer answers a question.
func (c *Client) QuestionAnswer(ctx context.Context, tool, id string, req AnswerRequest) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.AnswerQuestion(ctx, tool, id, req) })
}

// QuestionLog returns a question's audit log, oldest first.
func (c *Client) QuestionLog(ctx context.Context, tool, id string) (Envelope, error) {
	return c.send(ctx, func(ctx context.Context) (*http.Response, error) { return c.raw.GetQuestionLog(ctx, tool, id) })
}

// Question decodes the data as one question.
func (e Envelope) Question() (Question, error) {
	var q Question
	if err := json.Unmarshal(e.Data, &q); err != nil {
		return Question{}, fmt.Errorf("decode question: %w", err)
	}
	return q, nil
}

// Questions decodes the data as a list of questions.
func (e Envelope) Questions() ([]Question, error) {
	var qs []Question
	if err := json.Unmarshal(e.Data, &qs); err != nil {
		return nil, fmt.Errorf("decode questions: %w", err)
	}
	return qs, nil
}

// QuestionLogEntries decodes the data as a question's log.
func (e Envelope) QuestionLogEntries() ([]QuestionLogEntry, error) {
	var l []QuestionLogEntry
	if err := json.Unmarshal(e.Data, &l); err != nil {
		return nil, fmt.Errorf("decode question log: %w", err)
	}
	return l, nil
}
