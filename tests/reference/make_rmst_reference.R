# Reference values for the restricted mean survival time of nethep/robustness/effect_size.py
# (nethep.km.restricted_mean_survival underneath), computed with R's survival and boot.
#
# For each data set and horizon tau, per group:
#   rmean, se(rmean)   summary(survfit(Surv(time, event) ~ group), rmean = tau)$table
#                      (the Kaplan-Meier area from 0 to tau; past a group's last time the
#                      curve is carried forward flat; se by survival's rule)
# The default horizon is the shorter group's last follow-up, min over groups of the
# largest observed time (survRM2's rule); other horizons as listed.
# For the bundled cohort, also the stratified bootstrap of the RMST difference
# (surgical - nonsurgical) at the default horizon: boot::boot(strata = arm),
# R = 20000 resamples, seed 20061001: percentile 95% interval (boot.ci type "perc")
# and the bootstrap SE. R's and numpy's random streams differ, so the tests compare
# these within Monte Carlo error, not to the digit.
#
# Data sets (tests/reference/data/*.csv, columns time, event, group):
#   cohort   the bundled cohort, group = arm (surgical / nonsurgical)
#   lung     survival::lung by sex;  ovarian by rx;  veteran by trt
#
# Usage: Rscript tests/reference/make_rmst_reference.R (paths relative to this file).

source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))),
                 "setup.R"))  # survival, jsonlite, script_dir, setwd(script_dir): setup.R
suppressPackageStartupMessages(library(boot))

read <- function(name, group = "group") {
  d <- read.csv(file.path("data", paste0(name, ".csv")), stringsAsFactors = FALSE)
  data.frame(time = d$time, event = d$event, group = d[[group]])
}
datasets <- list(cohort = read("cohort", "arm"), lung = read("lung"),
                 ovarian = read("ovarian"), veteran = read("veteran"))
extra_taus <- list(cohort = c(36, 60), lung = c(365, 1000), ovarian = c(500, 1200),
                   veteran = c(100, 600))

default_tau <- function(d) min(tapply(d$time, d$group, max))

rmst_at <- function(d, tau) {
  fit <- survfit(Surv(time, event) ~ group, data = d)
  tab <- summary(fit, rmean = tau)$table
  groups <- sub("^group=", "", rownames(tab))
  lapply(setNames(seq_along(groups), groups), function(i)
    list(rmean = unname(tab[i, "rmean"]), se = unname(tab[i, "se(rmean)"]),
         last = max(d$time[d$group == groups[i]])))
}

cases <- list()
for (name in names(datasets)) {
  d <- datasets[[name]]
  taus <- c(default_tau(d), extra_taus[[name]])
  for (k in seq_along(taus)) {
    cases[[length(cases) + 1]] <- list(data = name, tau = taus[k], default = k == 1,
                                       groups = rmst_at(d, taus[k]))
  }
}

# stratified bootstrap of the cohort's RMST difference at the default horizon
cohort <- datasets$cohort
tau0 <- default_tau(cohort)
area <- function(time, event, tau) {
  fit <- survfit(Surv(time, event) ~ 1)
  unname(summary(fit, rmean = tau)$table["rmean"])
}
diff_stat <- function(d, i) {
  s <- d[i, ]
  area(s$time[s$group == "surgical"], s$event[s$group == "surgical"], tau0) -
    area(s$time[s$group == "nonsurgical"], s$event[s$group == "nonsurgical"], tau0)
}
set.seed(20061001)
b <- boot(cohort, diff_stat, R = 20000, strata = factor(cohort$group))
perc <- boot.ci(b, type = "perc")$percent[4:5]

out <- list(
  generator = "tests/reference/make_rmst_reference.R",
  r_version_string = R.version.string,
  survival_version = as.character(packageVersion("survival")),
  boot_version = as.character(packageVersion("boot")),
  method = "summary(survfit(Surv(time, event) ~ group), rmean = tau)$table",
  cases = cases,
  bootstrap = list(data = "cohort", tau = tau0, estimate = b$t0, n_resamples = 20000,
                   seed = 20061001, percentile_lower = perc[1], percentile_upper = perc[2],
                   se = sd(b$t[, 1]))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "rmst.json")
