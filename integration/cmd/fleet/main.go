package main

import (
	"fmt"
	"log"
	"os"

	"github.com/drover-cm/drover/integration"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "rootfs" {
		p, err := integration.Rootfs(log.Printf)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(p)
	}
}
