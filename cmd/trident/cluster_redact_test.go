package main

import (
	"strings"
	"testing"
)

// A token or password given in the --cluster URL never appears in what
// trident worker, trident run --cluster and trident cluster status print
// when they fail, whatever the form of the URL (a token, user and password,
// a list of servers, or a URL the NATS client cannot parse and quotes back).
func TestClusterFailureOutputHidesSecrets(t *testing.T) {
	const secret = "S3cretTok"
	urls := []string{
		"nats://" + secret + "@127.0.0.1:1",                    // a token
		"nats://ops:" + secret + "@127.0.0.1:1",                // user and password
		"nats://127.0.0.1:1,nats://" + secret + "@127.0.0.1:2", // a list
		"nats://ops:" + secret + "%zz@127.0.0.1:1",             // unparsable: the client quotes the URL
		"nats://" + secret + " x@127.0.0.1:1",                  // invalid userinfo, quoted too
		secret + "@127.0.0.1:1",                                // no scheme
	}
	for _, u := range urls {
		for _, args := range [][]string{
			{"worker", "--cluster", u, "--connect-timeout", "500ms"},
			{"run", "--cluster", u, "echo", ":::", "x"},
			{"cluster", "status", "--cluster", u, "--connect-timeout", "500ms"},
		} {
			out, errOut, code := runTrident(t, "", args...)
			if code == 0 {
				t.Errorf("trident %s %s: exit 0, want a failure", args[0], u)
				continue
			}
			if strings.Contains(out+errOut, secret) {
				t.Errorf("trident %s with %q shows the secret: %q", args[0], u, errOut)
			}
			if !strings.Contains(errOut, "127.0.0.1") {
				t.Errorf("trident %s with %q does not name the server: %q", args[0], u, errOut)
			}
		}
	}
}
