// Command bare is the baseline of the evaluation load test: a gin handler that answers a fixed
// JSON body, with nothing else in the way. Vane's evaluation endpoints are compared against it.
package main

import (
	"net/http"
	"os"

	"github.com/gin-gonic/gin"
)

func main() {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	body := gin.H{"flag_key": "load-test", "enabled": true, "value": true, "variation": "true", "reason": "SPLIT", "rollout_percentage": 50}
	r.POST("/evaluate", func(c *gin.Context) { c.JSON(http.StatusOK, body) })
	addr := ":18081"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	if err := r.Run(addr); err != nil {
		panic(err)
	}
}
