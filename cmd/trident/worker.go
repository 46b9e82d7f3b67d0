package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/trident-go/trident/cluster"
	"github.com/trident-go/trident/registry"
)

func init() {
	var f clusterFlags
	var jobs int
	var name string
	var ackWait time.Duration
	var maxDeliver int
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "worker --cluster URL [-j N]",
		Short: "Run command jobs sent by trident run --cluster (a NATS JetStream worker)",
		Long: `Run command jobs sent by trident run --cluster URL, N at a time, until
interrupted. Each job's exit status, output and times go back to the
submitter, which keeps the joblog. A worker that dies has its jobs run again
by another one after --ack-wait (delivery is at least once). On SIGINT or
SIGTERM the worker takes no new jobs, lets the running ones finish for
--grace, then kills them and hands them back to the queue.

The worker refuses to connect to a non-loopback server without credentials
(--user/--password, --token, --creds or --nkey, or in the URL).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options()
			if err != nil {
				return err
			}
			if jobs < 0 {
				return fmt.Errorf("-j %d: want 1 or more (0 means one per core)", jobs)
			}
			if jobs == 0 {
				jobs = runtime.NumCPU()
			}
			if name == "" {
				host, _ := os.Hostname()
				name = host + ":" + strconv.Itoa(os.Getpid())
			}
			ctx, cancel := signalContext()
			defer cancel()
			conn, err := cluster.Connect(ctx, o)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			defer conn.Close()
			fmt.Fprintf(cmd.ErrOrStderr(), "trident worker %s: serving queue %q with %d slot(s)\n", name, orDefault(f.queueName()), jobs)
			err = cluster.Serve(ctx, conn, cluster.WithQueue(f.queueName()), cluster.WithConcurrency(jobs),
				cluster.WithAckWait(ackWait), cluster.WithMaxDeliver(maxDeliver), cluster.WithName(name), cluster.WithGrace(grace),
				cluster.WithHandler(cluster.CommandHandler(registry.Gob, name, nil)), cluster.WithFunctions(cluster.CommandFunc))
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().IntVarP(&jobs, "jobs", "j", 0, "jobs to run at once (0: one per core)")
	cmd.Flags().StringVar(&name, "name", "", "worker name in trident cluster status and the joblog (default host:pid)")
	cmd.Flags().DurationVar(&ackWait, "ack-wait", 30*time.Second, "a job whose worker shows no sign of life this long is redelivered")
	cmd.Flags().IntVar(&maxDeliver, "max-deliver", 5, "a job delivered more often fails (it keeps killing its workers)")
	cmd.Flags().DurationVar(&grace, "grace", 10*time.Second, "on SIGINT/SIGTERM, running jobs may finish for this long before they are killed and handed back")
	rootCmd.AddCommand(cmd)
}

func orDefault(q string) string {
	if q == "" {
		return cluster.DefaultQueue
	}
	return q
}
