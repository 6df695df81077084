// promqlcheck parses PromQL expressions with Prometheus's own parser and names the metrics they
// select. Input: a JSON array of expressions on stdin. Output: a JSON array of
// {"expr", "error", "metrics"}, one per expression. Used by tests/deploy to check the chart's
// rules and dashboard against what the services export.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/prometheus/prometheus/promql/parser"
)

type result struct {
	Expr    string   `json:"expr"`
	Error   string   `json:"error,omitempty"`
	Metrics []string `json:"metrics"`
}

func main() {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "promqlcheck: reading stdin:", err)
		os.Exit(2)
	}
	var exprs []string
	if err := json.Unmarshal(data, &exprs); err != nil {
		fmt.Fprintln(os.Stderr, "promqlcheck: stdin is not a JSON array of strings:", err)
		os.Exit(2)
	}
	p := parser.NewParser(parser.Options{})
	out := make([]result, 0, len(exprs))
	for _, e := range exprs {
		r := result{Expr: e, Metrics: []string{}}
		ast, err := p.ParseExpr(e)
		if err != nil {
			r.Error = err.Error()
		} else {
			parser.Inspect(ast, func(n parser.Node, _ []parser.Node) error {
				if vs, ok := n.(*parser.VectorSelector); ok {
					r.Metrics = append(r.Metrics, vs.Name)
				}
				return nil
			})
		}
		out = append(out, r)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "promqlcheck:", err)
		os.Exit(2)
	}
}
