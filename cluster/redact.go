package cluster

import (
	"net/url"
	"sort"
	"strings"
)

// redacted replaces a secret wherever a URL is shown.
const redacted = "xxxxx"

// RedactURL returns a server URL, or a comma-separated list of them, with
// every password and token replaced by "xxxxx", so that it can be shown in
// messages and logs: nats://ops:pw@host:4222 becomes
// nats://ops:xxxxx@host:4222 and nats://TOKEN@host:4222 (a NATS token)
// becomes nats://xxxxx@host:4222. Unlike Go's url.URL.Redacted, which only
// hides passwords, it hides a token in the user position too, and it works
// on text that does not parse as a URL: all of the text between a scheme's
// "://" (or the start) and the last "@" before the next scheme counts as
// credentials, whatever it holds (a password with "/", "@" or "," in it
// included). Every URL trident shows or logs goes through it.
func RedactURL(raw string) string {
	var b strings.Builder
	for _, seg := range credSegments(raw) {
		b.WriteString(raw[seg.from:seg.credsFrom])
		if seg.credsTo < 0 {
			b.WriteString(raw[seg.credsFrom:seg.to])
			continue
		}
		creds := raw[seg.credsFrom:seg.credsTo]
		// A user name is not a secret, the password after it is;
		// credentials without ":" are a token (as the NATS client reads
		// them).
		if c := strings.Index(creds, ":"); c > 0 && !strings.ContainsAny(creds[:c], ",/?#@") {
			b.WriteString(creds[:c+1])
		}
		b.WriteString(redacted)
		b.WriteString(raw[seg.credsTo:seg.to])
	}
	return b.String()
}

// credSegment is a piece of a URL list: from the end of one "://" (or the
// start) to the next "://" (or the end). Its credentials run from credsFrom
// to its last "@" (credsTo, -1 when it has none).
type credSegment struct {
	from, credsFrom, credsTo, to int
}

func credSegments(raw string) []credSegment {
	var segs []credSegment
	from, credsFrom := 0, 0
	for {
		next := strings.Index(raw[credsFrom:], "://")
		to := len(raw)
		if next >= 0 {
			to = credsFrom + next
		}
		seg := credSegment{from: from, credsFrom: credsFrom, credsTo: -1, to: to}
		if at := strings.LastIndex(raw[credsFrom:to], "@"); at >= 0 {
			seg.credsTo = credsFrom + at
		}
		segs = append(segs, seg)
		if next < 0 {
			return segs
		}
		from, credsFrom = to, to+3
	}
}

// urlSecrets returns the secrets a URL list carries, as they appear in its
// text and decoded: the password or token of every server, also cut at
// commas as the NATS client cuts a list.
func urlSecrets(raw string) []string {
	seen := map[string]bool{}
	add := func(s string) {
		if s == "" {
			return
		}
		seen[s] = true
		if d, err := url.PathUnescape(s); err == nil && d != "" {
			seen[d] = true
		}
		if d, err := url.QueryUnescape(s); err == nil && d != "" {
			seen[d] = true
		}
	}
	for _, seg := range credSegments(raw) {
		if seg.credsTo < 0 {
			continue
		}
		creds := raw[seg.credsFrom:seg.credsTo]
		secret := creds
		if c := strings.Index(creds, ":"); c > 0 && !strings.ContainsAny(creds[:c], ",/?#@") {
			secret = creds[c+1:]
		}
		add(secret)
		for _, f := range strings.Split(creds, ",") {
			f = strings.TrimSpace(f)
			if c := strings.Index(f, ":"); c >= 0 {
				add(f[c+1:])
			}
			add(f)
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	return out
}

// redactText hides in text (an error message of the NATS client, which may
// quote the URL it was given, whole or cut at commas) every secret of the URL
// list raw and the extra secrets (passwords and tokens given as options).
// Quoted URLs are redacted as RedactURL does; then any other occurrence of a
// secret is replaced, unless it is also part of the public rest of the URL
// (a secret "42" in a host's port 4222 cannot be told apart).
func redactText(text, raw string, extra ...string) string {
	// One pass of one replacer, so that nothing is replaced inside a
	// replacement; at a position, earlier pairs win: whole quoted URLs
	// first, longest first, then the secrets, longest first.
	var quoted []string
	for _, q := range append([]string{raw}, strings.Split(raw, ",")...) {
		quoted = append(quoted, q, strings.TrimSpace(q))
	}
	sort.SliceStable(quoted, func(i, j int) bool { return len(quoted[i]) > len(quoted[j]) })
	var pairs []string
	for _, q := range quoted {
		if r := RedactURL(q); q != "" && r != q {
			pairs = append(pairs, q, r)
		}
	}
	public := RedactURL(raw)
	secrets := urlSecrets(raw)
	for _, s := range extra {
		if s != "" {
			secrets = append(secrets, s)
		}
	}
	sort.Slice(secrets, func(i, j int) bool {
		return len(secrets[i]) > len(secrets[j]) || len(secrets[i]) == len(secrets[j]) && secrets[i] < secrets[j]
	})
	for _, s := range secrets {
		if !strings.Contains(public, s) && !strings.Contains(redacted, s) {
			pairs = append(pairs, s, redacted)
		}
	}
	if len(pairs) == 0 {
		return text
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

// redactedError shows its error with the secrets of a URL hidden and keeps
// it for errors.Is and errors.As.
type redactedError struct {
	err error
	msg string
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactErr wraps err so that its message hides the secrets of the URL list
// raw and the extra ones; nil stays nil.
func redactErr(err error, raw string, extra ...string) error {
	if err == nil {
		return nil
	}
	return &redactedError{err: err, msg: redactText(err.Error(), raw, extra...)}
}
