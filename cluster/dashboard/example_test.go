package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/trident-go/trident/cluster/dashboard"
)

// Serve a dashboard over an in-memory store and read its JSON API, as the
// page does.
func ExampleStart() {
	store := dashboard.NewMemStore()
	id := store.Enqueue("default", "resize", `{"w":640}`)
	_ = store.Start(id, "worker-1")
	_ = store.Fail(id, "image too small", "resize.go:12")

	srv, err := dashboard.Start(context.Background(), store, dashboard.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background())

	resp, err := http.Get(srv.URL() + "api/jobs?state=failed")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var page dashboard.Page
	_ = json.NewDecoder(resp.Body).Decode(&page)
	fmt.Println(page.Total, page.Jobs[0].ID, page.Jobs[0].State, page.Jobs[0].Error)
	// Output: 1 j0000001 failed image too small
}

// Anyone who can reach a non-loopback address could cancel jobs: the
// dashboard wants credentials there.
func ExampleOptions_CheckAddr() {
	fmt.Println(dashboard.Options{Addr: "0.0.0.0:4280"}.CheckAddr())
	fmt.Println(dashboard.Options{Addr: "0.0.0.0:4280", Token: "s3cret"}.CheckAddr())
	fmt.Println(dashboard.Options{Addr: "localhost:4280"}.CheckAddr())
	// Output:
	// dashboard: refusing anonymous access on a non-loopback address: set a token or a user and password (listen address 0.0.0.0:4280)
	// <nil>
	// <nil>
}

// Mount the dashboard in an existing server under a prefix.
func ExampleHandler() {
	mux := http.NewServeMux()
	mux.Handle("/jobs/", http.StripPrefix("/jobs", dashboard.Handler(dashboard.NewMemStore(), dashboard.Options{})))

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "http://localhost/jobs/api/overview", nil))
	fmt.Println(rec.Code, rec.Body.String())
	// Output: 200 {"queues":[],"workers":[]}
}
