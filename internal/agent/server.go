// Package agent is the agent's HTTP API: authentication, routes, handlers
// and validation. State lives in the store; mirroring in the mirror engine.
package agent

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/failover"
	"github.com/kafka-failover/kafka-failover/internal/store"
	"github.com/kafka-failover/kafka-failover/internal/undecodable"
)

// Deps are what the API serves from.
type Deps struct {
	Store    *store.Store
	Status   func(mirror string) agentapi.MirrorStatus
	Groups   func(mirror, group string) (agentapi.GroupCheckpoints, bool)
	Failover *failover.Executor
	Token    string
	Log      *slog.Logger
	Registry *prometheus.Registry
	// RequestTimeout bounds every request but a failover or a reverse,
	// its state-topic writes included; 0 for DefaultRequestTimeout.
	RequestTimeout time.Duration
}

type server struct {
	Deps
	tokenSum [32]byte
	metrics  http.Handler
}

// NewServer answers the agent's HTTP API.
func NewServer(d Deps) http.Handler {
	s := &server{Deps: d, tokenSum: sha256.Sum256([]byte(d.Token))}
	d.Registry.MustRegister(policyCollector{s})
	s.metrics = promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{})
	mux := http.NewServeMux()
	s.routes(mux)
	return http.MaxBytesHandler(mux, agentapi.MaxBodyBytes)
}

// auth refuses requests without the bearer token. /healthz and /readyz stay
// open so that probes need no secret; they reveal nothing.
func (s *server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		sum := sha256.Sum256([]byte(got))
		// The scheme is case-insensitive (RFC 7235).
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(sum[:], s.tokenSum[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kafka-failover"`)
			writeError(w, http.StatusUnauthorized, agentapiErr(codeUnauthorized, "", "missing or wrong bearer token: send the agent's token as 'Authorization: Bearer <token>'"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bounded gives a request RequestTimeout: a state cluster that stalls
// answers 503 in time instead of holding the request.
func (s *server) bounded(next http.HandlerFunc) http.Handler {
	return s.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.requestTimeout())
		defer cancel()
		next(w, r.WithContext(ctx))
	}))
}

// unbounded lifts the server's write timeout for a failover or a reverse:
// they end by their own limits (drain_timeout and the steps' timeouts).
func (s *server) unbounded(next http.HandlerFunc) http.Handler {
	return s.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
		next(w, r)
	}))
}

func (s *server) requestTimeout() time.Duration {
	if s.RequestTimeout > 0 {
		return s.RequestTimeout
	}
	return DefaultRequestTimeout
}

func (s *server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 while the state topic is being read without error.
// Records of internal topics that did not decode are skipped, so they do
// not make the agent unready; their counts by topic are in the body. A
// record of a format version this agent does not read makes it unready:
// what the record says is missing from what it knows.
func (s *server) readyz(w http.ResponseWriter, _ *http.Request) {
	if n, err := undecodable.Refused(); err != nil {
		writeError(w, http.StatusServiceUnavailable, agentapiErr(codeUnavailable, "", fmt.Sprintf("records written by a newer agent were not read (by topic: %v); the last: %v", n, err)))
		return
	}
	if err := s.Store.FormatErr(); err != nil {
		writeError(w, http.StatusServiceUnavailable, agentapiErr(codeUnavailable, "", err.Error()))
		return
	}
	if err := s.Store.Healthy(); err != nil {
		writeError(w, http.StatusServiceUnavailable, agentapiErr(codeUnavailable, "", "the state cluster does not answer: "+err.Error()))
		return
	}
	body := map[string]any{"status": "ready", "record_format": s.Store.FormatStatus()}
	if bad := undecodable.Counts(); len(bad) > 0 {
		body["undecodable_records"] = bad
	}
	writeJSON(w, http.StatusOK, body)
}

const (
	codeInvalid      = agentapi.CodeInvalidField
	codeMalformed    = agentapi.CodeMalformedBody
	codeNotFound     = agentapi.CodeNotFound
	codeConflict     = agentapi.CodeConflict
	codeUnauthorized = agentapi.CodeUnauthorized
	codeInternal     = agentapi.CodeInternal
	codeUnavailable  = agentapi.CodeUnavailable
)

func agentapiErr(code, field, msg string) agentapi.Error {
	return agentapi.Error{Error: agentapi.ErrorDetail{Code: code, Field: field, Message: msg}}
}

// fieldError is a 400 about one field.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

func invalid(field, format string, args ...any) error {
	return &fieldError{field: field, msg: fmt.Sprintf(format, args...)}
}

// conflictError is a 409: the request is valid, but what the agent holds
// forbids it.
type conflictError struct{ field, msg string }

func (e *conflictError) Error() string { return e.field + ": " + e.msg }

func conflict(field, format string, args ...any) error {
	return &conflictError{field: field, msg: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, e agentapi.Error) { writeJSON(w, status, e) }

// fail turns an error into the right answer.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var fe *fieldError
	var ce *conflictError
	switch {
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, agentapiErr(codeInvalid, fe.field, fe.msg))
	case errors.As(err, &ce):
		writeError(w, http.StatusConflict, agentapiErr(codeConflict, ce.field, ce.msg))
	case errors.Is(err, store.ErrCreatedMeanwhile):
		writeError(w, http.StatusConflict, agentapiErr(codeConflict, "", "another request created it while this one was stored: read it and retry"))
	case errors.Is(err, store.ErrNoSecretKey):
		writeError(w, http.StatusBadRequest, agentapiErr(codeInvalid, "", err.Error()))
	case errors.Is(err, store.ErrRecordTooLarge):
		// No retry can store it: 413, not "safe to retry".
		writeError(w, http.StatusRequestEntityTooLarge, agentapiErr(agentapi.CodeTooLarge, "", "the agent cannot store this as sent: "+err.Error()))
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, agentapiErr(codeNotFound, "", err.Error()))
	case errors.Is(err, context.DeadlineExceeded) && r.Context().Err() != nil:
		s.Log.Error("request timed out", "method", r.Method, "path", r.URL.Path, "request_timeout", s.requestTimeout(), "error", err)
		writeError(w, http.StatusServiceUnavailable, agentapiErr(codeUnavailable, "", fmt.Sprintf(
			"the state cluster did not answer within the request timeout of %s; the change may or may not be stored, it is safe to retry: %v", s.requestTimeout(), err)))
	default:
		s.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		writeError(w, http.StatusServiceUnavailable, agentapiErr(codeUnavailable, "", "the agent could not complete the request, it is safe to retry: "+err.Error()))
	}
}

// decode reads a JSON body strictly: unknown fields and wrong types are
// refused with the field's path.
func decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return &unsupportedType{fmt.Sprintf("the body is sent as %.100q: send JSON as application/json", ct)}
		}
	}
	body, err := io.ReadAll(r.Body) // NewServer bounds it
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return &tooLarge{fmt.Sprintf("the body is over the limit of %d bytes: nothing was read or stored", mb.Limit)}
	}
	if err != nil {
		return invalid("", "cannot read the request body: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			return invalid(te.Field, "must be a JSON %s, not %s", te.Type.String(), te.Value)
		case errors.As(err, &se):
			return &malformed{fmt.Sprintf("the body is not valid JSON (at byte %d): %v", se.Offset, err)}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			field := unknownFieldPath(body, reflect.TypeOf(v).Elem(), "")
			if field == "" {
				field = name
			}
			return invalid(field, "unknown field %q: remove it or check its spelling", name)
		case errors.Is(err, io.EOF):
			return &malformed{"the body is empty: send a JSON object"}
		default:
			return &malformed{"the body is not a valid JSON object: " + err.Error()}
		}
	}
	if dec.More() {
		return &malformed{"the body holds more than one JSON value: send exactly one object"}
	}
	return bound(v)
}

// unknownFieldPath finds the JSON path of the first field in raw that typ
// does not have, e.g. "sasl.bogus": the decoder names only the last part.
func unknownFieldPath(raw []byte, typ reflect.Type, prefix string) string {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct {
		return ""
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return ""
	}
	known := map[string]reflect.Type{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		known[name] = f.Type
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ft, ok := known[k]
		if !ok {
			return prefix + k
		}
		if path := unknownFieldPath(obj[k], ft, prefix+k+"."); path != "" {
			return path
		}
	}
	return ""
}

type malformed struct{ msg string }

func (e *malformed) Error() string { return e.msg }

// tooLarge is a body over agentapi.MaxBodyBytes (413).
type tooLarge struct{ msg string }

func (e *tooLarge) Error() string { return e.msg }

// unsupportedType is a body that is not sent as JSON (415).
type unsupportedType struct{ msg string }

func (e *unsupportedType) Error() string { return e.msg }

// badBody answers a decode error: 400, 413 or 415.
func (s *server) badBody(w http.ResponseWriter, r *http.Request, err error) {
	var m *malformed
	var tl *tooLarge
	var ut *unsupportedType
	switch {
	case errors.As(err, &m):
		writeError(w, http.StatusBadRequest, agentapiErr(codeMalformed, "", m.msg))
	case errors.As(err, &tl):
		writeError(w, http.StatusRequestEntityTooLarge, agentapiErr(agentapi.CodeTooLarge, "", tl.msg))
	case errors.As(err, &ut):
		writeError(w, http.StatusUnsupportedMediaType, agentapiErr(agentapi.CodeUnsupportedMediaType, "", ut.msg))
	default:
		s.fail(w, r, err)
	}
}
