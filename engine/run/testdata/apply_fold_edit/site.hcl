# Two edits of one file in one batch (the second planned from what the
# first writes: rebase), each notifying a handler. The second finds its
# line already written: it changes nothing, and its handler must not run.
variable "root" { type = string }

play "local" {
  hosts = "all"

  line "one" {
    path   = "${var.root}/app.ini"
    line   = "x = 1"
    create = true
    notify = [handler.first]
  }
  line "two" {
    path       = "${var.root}/app.ini"
    line       = "x = 1"
    create     = true
    depends_on = [line.one]
    notify     = [handler.second]
  }
  line "three" {
    path       = "${var.root}/app.ini"
    line       = "y = 2"
    create     = true
    depends_on = [line.two]
  }

  handler "first" {
    command {
      run = ["sh", "-c", "echo first >> $0", "${var.root}/log"]
    }
  }
  handler "second" {
    command {
      run = ["sh", "-c", "echo second >> $0", "${var.root}/log"]
    }
  }
}
