// Command etcd is upstream etcd's server main, built from the pinned module in go.mod
// (etcd publishes no Go-installable main package of its own).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
