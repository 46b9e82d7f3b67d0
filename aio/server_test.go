package aio_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/trident-go/trident/aio"
)

// A server must not start handlers for connections accepted while the loop
// is shutting down: main has returned and nothing would cancel them, so Run
// would wait for as long as the client keeps the connection open.
func TestServerStopsHandlingWhenMainReturns(t *testing.T) {
	addrc := make(chan string, 1)
	mainDone := make(chan struct{})
	cleanup := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
			srv, err := aio.StartServer(t, "127.0.0.1:0", func(t *aio.T, r *aio.StreamReader, w *aio.StreamWriter) error {
				_, err := r.ReadLine(t) // a client that never sends
				return err
			})
			if err != nil {
				return 0, err
			}
			// A task whose cleanup keeps the loop running after main returns.
			aio.Go(t, func(t *aio.T) (int, error) {
				err := aio.Sleep(t, time.Hour)
				_, _ = aio.ToThread(t, func(ctx context.Context) (int, error) {
					<-cleanup
					return 0, nil
				})
				return 0, err
			})
			if err := aio.Yield(t); err != nil {
				return 0, err
			}
			addrc <- srv.Addr().String()
			close(mainDone)
			return 0, nil
		})
		done <- err
	}()
	addr := <-addrc
	<-mainDone
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(200 * time.Millisecond) // let the accept reach the loop
	close(cleanup)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		c.Close()
		<-done
		t.Fatal("Run did not return: a handler started after main returned kept it running")
	}
}
