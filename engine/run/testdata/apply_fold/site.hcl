# Handlers folded into the play's last batch (fold.go): which ones go, in
# which order, and what a failure in that batch does to them.
variable "root" { type = string }
variable "fail" {
  type    = string
  default = "none" # "stop": command.boom fails; "continue": command.soft fails, ignored
}

play "local" {
  hosts = "all"

  file "a" {
    path    = "${var.root}/a"
    content = "a\n"
    notify  = [handler.first, handler.second]
  }
  file "b" {
    path    = "${var.root}/b"
    content = "b\n"
    notify  = [handler.first, handler.out]
  }
  command "boom" {
    run     = ["sh", "-c", "exit ${var.fail == "stop" ? 3 : 0}"]
    creates = "${var.root}/boom"
  }
  command "soft" {
    run        = ["sh", "-c", "exit ${var.fail == "continue" ? 3 : 0}"]
    on_failure = "continue"
  }
  # Whether it changed is known only from its result: the handler it
  # notifies, and every one after, wait for the walk.
  command "judged" {
    run          = ["sh", "-c", "echo judged"]
    changed_when = self.stdout == "judged"
    notify       = [handler.second]
  }

  handler "first" {
    command {
      run = ["sh", "-c", "echo first >> $0", "${var.root}/log"]
    }
  }
  handler "unnotified" {
    command {
      run = ["sh", "-c", "echo unnotified >> $0", "${var.root}/log"]
    }
  }
  handler "second" {
    command {
      run = ["sh", "-c", "echo second >> $0", "${var.root}/log"]
    }
  }
  # Waits for an output: evaluated only once the tasks ran.
  handler "out" {
    command {
      run = ["sh", "-c", "echo out ${command.judged.stdout} >> $0", "${var.root}/log"]
    }
  }
}
