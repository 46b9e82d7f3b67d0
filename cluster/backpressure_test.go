package cluster

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/trident-go/trident/future"
)

// A burst of submissions larger than the client's window of publishes
// awaiting the server's acknowledgement, while the server is slow to
// acknowledge (here: stopped for a second), waits for room instead of
// failing the futures with "stalled with too many outstanding async
// published messages" (the full-size cluster benchmark lost futures so on
// a loaded machine). Every task runs once the server answers again.
func TestSubmitBurstWaitsForPublishWindow(t *testing.T) {
	srv := exec.Command(os.Args[0], "-test.run=^$")
	srv.Env = append(os.Environ(), envServerProcess+"=1")
	out, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			urlc <- strings.TrimSpace(sc.Text())
		}
		for sc.Scan() {
		}
		srv.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		srv.Process.Signal(syscall.SIGCONT)
		srv.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			srv.Process.Kill()
			<-done
		}
	})
	var url string
	select {
	case url = <-urlc:
	case <-time.After(guard):
		t.Fatal("server process did not start")
	}
	conn := connect(t, ConnectOptions{URL: url})
	// A small window, so that a short burst fills it.
	js, err := jetstream.New(conn.nc, jetstream.WithPublishAsyncMaxPending(4))
	if err != nil {
		t.Fatal(err)
	}
	conn.js = js
	serveInProcess(t, conn, WithQueue("burst"), WithFunctions(square.Name()))
	ex := newExecutor(t, conn, WithQueue("burst"))
	ctx := waitCtx(t)

	if err := srv.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(time.Second, func() { srv.Process.Signal(syscall.SIGCONT) })
	var fs []*future.Future[int]
	for i := range 20 {
		fs = append(fs, square.Submit(ex, ctx, i))
	}
	for i, f := range fs {
		if v, err := f.Result(ctx); err != nil || v != i*i {
			t.Fatalf("square(%d) = %d, %v", i, v, err)
		}
	}
}
