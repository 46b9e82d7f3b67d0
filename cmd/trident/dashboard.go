package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/trident-go/trident/cluster"
	"github.com/trident-go/trident/cluster/dashboard"
)

func init() {
	var f clusterFlags
	var o dashboard.Options
	var demo int
	cmd := &cobra.Command{
		Use:   "dashboard --cluster URL [--addr HOST:PORT]",
		Short: "Serve a web page to watch the job queue: queues, workers, jobs; cancel and requeue",
		Long: `Serve the job queue's dashboard on --addr (default 127.0.0.1:4280): queues
with their depth and rates, workers with their slots and current jobs, jobs by
state with search by ID, a job's argument, result or error with its stack and
timeline, and the actions cancel and requeue, updated live. The page is built
into the binary; it needs no network.

Like trident cluster server, the dashboard refuses a non-loopback address
without credentials: set --dashboard-token (then open the page once with
?token=TOKEN, or send Authorization: Bearer TOKEN) or --dashboard-user and
--dashboard-password (basic auth). --token, --user and --password are the
NATS server's credentials, as in the other cluster commands.

--demo N serves N made-up jobs from memory, moving along, without a cluster.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Token = envOr(o.Token, "TRIDENT_DASHBOARD_TOKEN")
			o.User = envOr(o.User, "TRIDENT_DASHBOARD_USER")
			o.Password = envOr(o.Password, "TRIDENT_DASHBOARD_PASSWORD")
			if err := o.CheckAddr(); err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			if demo < 0 {
				return fmt.Errorf("--demo %d: want a number of jobs, 0 or more", demo)
			}
			ctx, cancel := signalContext()
			defer cancel()
			var store dashboard.Store
			if cmd.Flags().Changed("demo") {
				if f.url != "" {
					return fmt.Errorf("--demo serves made-up jobs: it takes no --cluster")
				}
				m := dashboard.NewMemStore()
				fillDemo(m, demo)
				go runDemo(ctx, m)
				store = m
			} else {
				co, err := f.options()
				if err != nil {
					return err
				}
				conn, err := cluster.Connect(ctx, co)
				if err != nil {
					return &exitError{code: 1, msg: err.Error()}
				}
				defer conn.Close()
				store, err = newDashboardStore(ctx, conn, f.queueName())
				if err != nil {
					return &exitError{code: 1, msg: err.Error()}
				}
			}
			err := dashboard.Serve(ctx, store, o, func(url string) {
				fmt.Fprintln(cmd.OutOrStdout(), "trident cluster dashboard on", url)
			})
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().StringVar(&o.Addr, "addr", "127.0.0.1:4280", "address to serve the page on")
	cmd.Flags().StringVar(&o.Token, "dashboard-token", "", "require this token from browsers and scripts (or $TRIDENT_DASHBOARD_TOKEN)")
	cmd.Flags().StringVar(&o.User, "dashboard-user", "", "require this user by basic auth (or $TRIDENT_DASHBOARD_USER)")
	cmd.Flags().StringVar(&o.Password, "dashboard-password", "", "and this password (or $TRIDENT_DASHBOARD_PASSWORD)")
	cmd.Flags().DurationVar(&o.Refresh, "refresh", time.Second, "how often open pages are brought up to date")
	cmd.Flags().IntVar(&demo, "demo", 0, "serve this many made-up jobs from memory instead of a cluster's")
	for _, c := range rootCmd.Commands() {
		if c.Name() == "cluster" {
			c.AddCommand(cmd)
			return
		}
	}
	panic("trident cluster dashboard: no cluster command to join")
}

var demoFunctions = []string{"resize", "send_mail", "report.build", "thumbnail"}

// fillDemo adds n ended jobs (one in 23 failed) spread over the last hour
// and two workers.
func fillDemo(m *dashboard.MemStore, n int) {
	start := time.Now().Add(-time.Hour)
	for i := range n {
		at := start.Add(time.Duration(i) * time.Hour / time.Duration(max(n, 1)))
		j := dashboard.Job{Queue: []string{"default", "mail"}[i%2], Function: demoFunctions[i%len(demoFunctions)],
			Args: `{"n":` + strconv.Itoa(i) + `}`, State: dashboard.Finished, Attempts: 1, Worker: "demo-1",
			Result: strconv.Itoa(i * i), EnqueuedAt: at, StartedAt: at, EndedAt: at.Add(40 * time.Millisecond)}
		if i%23 == 7 {
			j.State, j.Result, j.Error = dashboard.Failed, "", "ValueError: n is odd"
			j.Stack = "goroutine 12 [running]:\nmain.work(0x" + strconv.FormatInt(int64(i), 16) + ")\n\twork.go:17 +0x2c"
		}
		m.Add(j)
	}
	m.SetWorker(dashboard.Worker{ID: "demo-1", Host: "localhost", Slots: 4, Queues: []string{"default", "mail"}})
	m.SetWorker(dashboard.Worker{ID: "demo-2", Host: "localhost", Slots: 2, Queues: []string{"default"}})
}

// runDemo keeps the demo moving until ctx ends: a job enqueued every 300 ms,
// started on a free worker, then finished (or, one in six, failed).
func runDemo(ctx context.Context, m *dashboard.MemStore) {
	t := time.NewTicker(300 * time.Millisecond)
	defer t.Stop()
	var queued, started []string
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		queued = append(queued, m.Enqueue("default", demoFunctions[i%len(demoFunctions)], `{"n":`+strconv.Itoa(i)+`}`))
		for len(started) > 0 && rand.IntN(3) > 0 {
			id := started[0]
			started = started[1:]
			if rand.IntN(6) == 0 {
				_ = m.Fail(id, "TimeoutError: the remote end did not answer", "goroutine 9 [running]:\nmain.fetch()\n\tfetch.go:31 +0x88")
			} else {
				_ = m.Finish(id, `{"ok":true}`)
			}
		}
		if len(queued) > 2 && len(started) < 5 {
			w := []string{"demo-1", "demo-2"}[i%2]
			if m.Start(queued[0], w) == nil {
				started = append(started, queued[0])
			}
			queued = queued[1:]
		}
	}
}
