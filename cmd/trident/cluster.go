package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trident-go/trident/cluster"
)

// clusterFlags are the connection options shared by trident worker and
// trident cluster status. trident run --cluster takes credentials and TLS
// files from the URL or from the TRIDENT_CLUSTER_* environment variables.
type clusterFlags struct {
	url, user, password, token, creds, nkey string
	ca, cert, key                           string
	queue                                   string
	timeout                                 time.Duration
}

func (f *clusterFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.url, "cluster", "", "NATS server URL, e.g. nats://host:4222 (credentials may be in the URL)")
	fs.StringVar(&f.user, "user", "", "user name (or $TRIDENT_CLUSTER_USER)")
	fs.StringVar(&f.password, "password", "", "password (or $TRIDENT_CLUSTER_PASSWORD)")
	fs.StringVar(&f.token, "token", "", "token (or $TRIDENT_CLUSTER_TOKEN)")
	fs.StringVar(&f.creds, "creds", "", "NATS .creds file (or $TRIDENT_CLUSTER_CREDS)")
	fs.StringVar(&f.nkey, "nkey", "", "nkey seed file (or $TRIDENT_CLUSTER_NKEY)")
	fs.StringVar(&f.ca, "tls-ca", "", "CA certificate file to verify the server (or $TRIDENT_CLUSTER_TLS_CA)")
	fs.StringVar(&f.cert, "tls-cert", "", "client certificate file (or $TRIDENT_CLUSTER_TLS_CERT)")
	fs.StringVar(&f.key, "tls-key", "", "client key file (or $TRIDENT_CLUSTER_TLS_KEY)")
	fs.StringVar(&f.queue, "queue", "", "work queue name (or $TRIDENT_CLUSTER_QUEUE; default \"default\")")
	fs.DurationVar(&f.timeout, "connect-timeout", 5*time.Second, "give up connecting after this long")
}

func envOr(v, name string) string {
	if v != "" {
		return v
	}
	return os.Getenv(name)
}

func (f *clusterFlags) options() (cluster.ConnectOptions, error) {
	if f.url == "" {
		return cluster.ConnectOptions{}, fmt.Errorf("--cluster URL is required")
	}
	return cluster.ConnectOptions{
		URL: f.url, User: envOr(f.user, "TRIDENT_CLUSTER_USER"), Password: envOr(f.password, "TRIDENT_CLUSTER_PASSWORD"),
		Token: envOr(f.token, "TRIDENT_CLUSTER_TOKEN"), CredsFile: envOr(f.creds, "TRIDENT_CLUSTER_CREDS"),
		NKeyFile: envOr(f.nkey, "TRIDENT_CLUSTER_NKEY"), CAFile: envOr(f.ca, "TRIDENT_CLUSTER_TLS_CA"),
		CertFile: envOr(f.cert, "TRIDENT_CLUSTER_TLS_CERT"), KeyFile: envOr(f.key, "TRIDENT_CLUSTER_TLS_KEY"),
		Timeout: f.timeout, Name: "trident",
	}, nil
}

func (f *clusterFlags) queueName() string {
	return envOr(f.queue, "TRIDENT_CLUSTER_QUEUE")
}

// signalContext is cancelled on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
}

func init() {
	clusterCmd := &cobra.Command{
		Use:   "cluster",
		Short: "Run and inspect a NATS JetStream cluster for trident run --cluster and trident worker",
	}

	var sf clusterFlags
	var statusJSON bool
	var wait time.Duration
	statusCmd := &cobra.Command{
		Use:   "status --cluster URL",
		Short: "Show workers, queue depth, in-flight and redelivered tasks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := sf.options()
			if err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			conn, err := cluster.Connect(ctx, o)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			defer conn.Close()
			st, err := cluster.GetStatus(ctx, conn, sf.queueName(), wait)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			out := cmd.OutOrStdout()
			if statusJSON {
				b, _ := json.MarshalIndent(st, "", "  ")
				fmt.Fprintln(out, string(b))
				return nil
			}
			fmt.Fprintf(out, "queue %s: %d waiting, %d in flight, %d redelivered, %d dead letters, %d worker(s)\n",
				st.Queue, st.QueueDepth, st.InFlight, st.Redelivered, st.DeadLetters, len(st.Workers))
			if len(st.Functions) > 0 {
				w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "FUNCTION\tWAITING\tIN FLIGHT\tREDELIVERED\tWORKERS")
				for _, f := range st.Functions {
					note := ""
					if f.Workers == 0 && f.Waiting > 0 {
						note = "\t(no live worker runs it: its tasks wait)"
					}
					fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d%s\n", f.Name, f.Waiting, f.InFlight, f.Redelivered, f.Workers, note)
				}
				w.Flush()
			}
			if len(st.Workers) > 0 {
				w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(w, "WORKER\tQUEUE\tPID\tSLOTS\tRUNNING\tDONE\tFAILED\tUP")
				for _, wi := range st.Workers {
					fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", wi.Name, wi.Queue, wi.PID, wi.Concurrency,
						wi.Running, wi.Done, wi.Failed, time.Since(wi.Started).Round(time.Second))
				}
				w.Flush()
			}
			return nil
		},
	}
	sf.register(statusCmd.Flags())
	statusCmd.Flags().BoolVar(&statusJSON, "json", false, "print JSON")
	statusCmd.Flags().DurationVar(&wait, "wait", 500*time.Millisecond, "how long to collect worker answers")

	var listen, dataDir, user, password, token, tlsCert, tlsKey string
	serverCmd := &cobra.Command{
		Use:   "server [--listen HOST:PORT]",
		Short: "Run an embedded NATS JetStream server (loopback only unless credentials are set)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			host, portS, err := net.SplitHostPort(listen)
			if err != nil {
				return fmt.Errorf("--listen %q: %v", listen, err)
			}
			port, err := strconv.Atoi(portS)
			if err != nil {
				return fmt.Errorf("--listen %q: bad port", listen)
			}
			o := cluster.ServerOptions{Host: host, Port: port, DataDir: dataDir,
				User: envOr(user, "TRIDENT_CLUSTER_USER"), Password: envOr(password, "TRIDENT_CLUSTER_PASSWORD"),
				Token: envOr(token, "TRIDENT_CLUSTER_TOKEN")}
			if tlsCert != "" || tlsKey != "" {
				c, err := tls.LoadX509KeyPair(tlsCert, tlsKey)
				if err != nil {
					return fmt.Errorf("--tls-cert/--tls-key: %v", err)
				}
				o.TLS = &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}
			}
			ctx, cancel := signalContext()
			defer cancel()
			s, err := cluster.StartServer(ctx, o)
			if err != nil {
				return err
			}
			defer s.Shutdown()
			fmt.Fprintln(cmd.OutOrStdout(), "trident cluster server listening on", s.URL())
			<-ctx.Done()
			return nil
		},
	}
	serverCmd.Flags().StringVar(&listen, "listen", "127.0.0.1:4222", "address to listen on")
	serverCmd.Flags().StringVar(&dataDir, "data", "", "JetStream data directory (default: a temporary one)")
	serverCmd.Flags().StringVar(&user, "user", "", "require this user (or $TRIDENT_CLUSTER_USER)")
	serverCmd.Flags().StringVar(&password, "password", "", "and this password (or $TRIDENT_CLUSTER_PASSWORD)")
	serverCmd.Flags().StringVar(&token, "token", "", "require this token (or $TRIDENT_CLUSTER_TOKEN)")
	serverCmd.Flags().StringVar(&tlsCert, "tls-cert", "", "server certificate file (turns TLS on)")
	serverCmd.Flags().StringVar(&tlsKey, "tls-key", "", "server key file")

	clusterCmd.AddCommand(statusCmd, serverCmd)
	rootCmd.AddCommand(clusterCmd)
}
