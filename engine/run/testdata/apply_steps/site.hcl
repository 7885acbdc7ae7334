variable "root" { type = string }

play "local" {
  hosts = "all"

  # Changes nothing, but its probe must run: it leaves a mark so the test
  # can tell. It changes nothing, so it notifies nothing.
  wait_for "ready" {
    command  = "echo probed >> ${var.root}/probes"
    timeout  = "10s"
    interval = "100ms"
    notify   = [handler.mark]
  }
  file "after" {
    path    = "${var.root}/after"
    content = "x\n"
  }
  handler "mark" {
    command {
      run = ["touch", "${var.root}/handler-ran"]
    }
  }
}
