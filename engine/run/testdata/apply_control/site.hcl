variable "root" { type = string }

play "local" {
  hosts = "all"

  block "deploy" {
    file "marker" {
      path    = "${var.root}/marker"
      content = "m\n"
    }
    command "broken" {
      run = ["sh", "-c", "echo half-done; echo broken >&2; exit 4"]
    }
    file "not_reached" {
      path    = "${var.root}/not_reached"
      content = "x\n"
    }
    rescue {
      shell "recover" {
        run    = "echo \"$OUT\" > \"$ROOT/recovered\""
        env    = { ROOT = var.root, OUT = command.broken.stdout }
        notify = [handler.h]
      }
    }
    always {
      shell "cleanup" {
        run = "touch \"$ROOT/cleaned\""
        env = { ROOT = var.root }
      }
    }
  }

  # The block skipped file.not_reached: it ran nothing, changed nothing.
  file "after_block" {
    path    = "${var.root}/after_block"
    content = "not_reached changed: ${file.not_reached.changed}\n"
  }

  command "ignored" {
    run        = ["sh", "-c", "exit 2"]
    on_failure = "continue"
  }
  file "after_ignored" {
    path    = "${var.root}/after_ignored"
    content = "exit ${command.ignored.exit_code}\n"
  }

  shell "grep" {
    run         = "grep -q needle \"$ROOT/marker\""
    env         = { ROOT = var.root }
    failed_when = self.exit_code > 1
  }
  shell "check" {
    run          = "echo active"
    changed_when = false
  }
  shell "flaky" {
    run         = "n=$(cat \"$ROOT/count\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$ROOT/count\"; [ $n -ge 3 ]"
    env         = { ROOT = var.root }
    retries     = 4
    retry_delay = "10ms"
    creates     = "${var.root}/flaky.done"
  }
  shell "flaky_done" {
    run     = "touch \"$ROOT/flaky.done\""
    env     = { ROOT = var.root }
    creates = "${var.root}/flaky.done"
  }
  file "when_changed" {
    path    = "${var.root}/when_changed"
    content = "c\n"
    when    = file.marker.changed
  }

  handler "h" {
    file {
      path    = "${var.root}/handler"
      content = "h\n"
    }
  }
}
