variable "root" { type = string }

play "local" {
  hosts = "all"

  shell "never" {
    run         = "echo try >> ${var.root}/tries; exit 1"
    retries     = 5
    retry_delay = "30s"
  }
  file "later" {
    path    = "${var.root}/later"
    content = "x\n"
  }
}
