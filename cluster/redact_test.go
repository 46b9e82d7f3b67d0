package cluster

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// natsSecrets is the test's own reading of the secrets in a URL list, the
// way the NATS client reads it (a list cut at commas, "nats://" added to a
// server without scheme, then url.Parse): each server's password, or its
// user name when there is no password (a token), both as written and
// decoded; public is raw without them.
func natsSecrets(raw string) (secrets []string, public string) {
	public = raw
	for _, p := range strings.Split(raw, ",") {
		p = strings.TrimSpace(p)
		q := p
		if !strings.Contains(q, "://") {
			q = "nats://" + q
		}
		// The userinfo as net/url cuts it: after "//", before the last "@"
		// of the authority (which ends at the first '/', after '#' and '?'
		// were cut off).
		rest := q[strings.Index(q, "://")+3:]
		rest, _, _ = strings.Cut(rest, "#")
		rest, _, _ = strings.Cut(rest, "?")
		auth, _, _ := strings.Cut(rest, "/")
		at := strings.LastIndex(auth, "@")
		if at < 0 {
			continue
		}
		info := auth[:at]
		rawSecret, user := info, ""
		if u, ps, ok := strings.Cut(info, ":"); ok {
			rawSecret, user = ps, u+":" // a user name is public
		}
		public = strings.Replace(public, info+"@", user+"@", 1)
		secrets = append(secrets, rawSecret)
		if pu, err := url.Parse(q); err == nil && pu.User != nil {
			if pw, ok := pu.User.Password(); ok {
				secrets = append(secrets, pw)
			} else {
				secrets = append(secrets, pu.User.Username())
			}
		}
	}
	return secrets, public
}

// checkNoSecret fails when out, made by show from raw and redacted, shows a
// secret of raw that show also shows from the public rest of raw alone
// (which then cannot be told apart: a secret "42" in a port 4222). The placeholder
// is blanked on both sides first, so that a secret of x's is not "found" in
// it.
func checkNoSecret(t *testing.T, raw, what string, show, redact func(string) string) {
	t.Helper()
	secrets, public := natsSecrets(raw)
	const blank = "\x00"
	out := strings.ReplaceAll(redact(show(raw)), redacted, blank)
	public = strings.ReplaceAll(show(public), redacted, blank)
	for _, s := range secrets {
		if s == "" || strings.Contains(s, blank) || strings.Contains(public, s) || strings.Contains(redacted, s) {
			continue
		}
		if strings.Contains(out, s) {
			t.Fatalf("%s of %q shows the secret %q: %q", what, raw, s, out)
		}
	}
}

func same(s string) string { return s }

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":                      "nats://127.0.0.1:4222",
		"nats://TOKEN@127.0.0.1:4222":                "nats://xxxxx@127.0.0.1:4222",
		"nats://ops:long-secret@host:4222":           "nats://ops:xxxxx@host:4222",
		"tls://a:b@h1:1,nats://tok@h2:2,nats://h3:3": "tls://a:xxxxx@h1:1,nats://xxxxx@h2:2,nats://h3:3",
		"tok@host:4222":                              "xxxxx@host:4222",
		"nats://u:pa,ss@host:4222":                   "nats://u:xxxxx@host:4222",
		"nats://u:a@b/c@host":                        "nats://u:xxxxx@host",
		"nats://tok%zz@h":                            "nats://xxxxx@h",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
	// Errors of the NATS client quote the URL, whole or cut at a comma.
	raw := "nats://u:pa,ss@127.0.0.1:1"
	err := redactErr(errors.New(`parse "nats://u:pa": invalid port ":pa" after host`), raw)
	if strings.Contains(err.Error(), "pa") {
		t.Errorf("redacted error %q shows part of the password", err)
	}
	base := errors.New("base")
	if err := redactErr(base, "nats://t@h"); !errors.Is(err, base) {
		t.Errorf("redactErr loses the error's identity: %v", err)
	}
}

// FuzzRedactURL: whatever the text given as a server URL (list), neither
// RedactURL nor an error message of the NATS client quoting it, once
// redacted, shows a password or token the NATS client would read from it.
func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{
		"nats://u:secret@h:4222", "nats://h:1,nats://a:pw@b:2", "%zz", "nats://TOKEN@host:4222",
		"tok@host", "nats://u:p%41ss@h", "nats://u:pa,ss@h:1", "tls://a:b@c@d/e?f#g", "nats://x:y@[::1:1",
		" nats://tok@h , nats://u:p@h2", "nats://u:@h", "nats://:pw@h", "nats://tok/en@h",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		checkNoSecret(t, raw, "RedactURL", same, RedactURL)
		checkNoSecret(t, raw, "redacted error", func(u string) string {
			return `parse "` + u + `": bad; parse "` + strings.Split(u, ",")[0] + `": bad`
		}, func(msg string) string { return redactErr(errors.New(msg), raw).Error() })
	})
}

// FuzzRedactBuiltURL builds well-formed URLs around arbitrary credentials
// (escaped as net/url escapes them, and raw) and checks that none survives.
func FuzzRedactBuiltURL(f *testing.F) {
	f.Add("ops", "long-secret", "host:4222", true)
	f.Add("", "TOKEN", "127.0.0.1:4222", false)
	f.Add("a", "p@ss:w/rd,x", "h", true)
	f.Fuzz(func(t *testing.T, user, secret, host string, withUser bool) {
		var forms []string
		if withUser {
			forms = append(forms, "nats://"+url.UserPassword(user, secret).String()+"@"+host,
				"nats://"+user+":"+secret+"@"+host)
		} else {
			forms = append(forms, "nats://"+url.User(secret).String()+"@"+host, "nats://"+secret+"@"+host)
		}
		for _, raw := range forms {
			checkNoSecret(t, raw, "RedactURL", same, RedactURL)
			checkNoSecret(t, raw, "redacted error", func(u string) string { return `parse "` + u + `": bad` },
				func(msg string) string { return redactErr(errors.New(msg), raw).Error() })
		}
	})
}
