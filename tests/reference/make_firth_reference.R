# Reference values for nethep/firth.py (Firth-penalised Cox regression) and the three
# ordinary Cox tests, computed with R's survival package alone.
#
# The penalised log partial likelihood l*(b) = l(b) + 0.5 log det I(b) (Firth 1993;
# Heinze and Schemper 2001) is evaluated at a fixed b by survival::coxph with
# init = b and control = coxph.control(iter.max = 0): l(b) = fit$loglik[2] and
# I(b) = solve(vcov(fit)), the observed information at b. It is then
#   - maximised: optimize() over one coefficient; for two coefficients, optimize()
#     over the first of the maximum over the second (nested optimize, tol 1e-12);
#   - profiled: for each coefficient j, the limits of the 95% CI are the roots
#     (uniroot, tol 1e-12) of 2 (l*(b_hat) - max over the others l*(b_j)) = qchisq(.95, 1);
#   - tested: the penalised likelihood-ratio statistic 2 (l*(b_hat) - max l*(b_j = 0)),
#     chi-square on 1 df.
# The ordinary Cox fit (coxph, eps = 1e-12) gives the Wald, likelihood-ratio and
# score tests of summary.coxph (waldtest, logtest, sctest); where the likelihood is
# monotone (an arm with no deaths) the Wald test is not meaningful and is written null.
# Ties: Efron (nethep's default) and Breslow (R coxphf's) for every data set.
#
# Data sets (stored in firth.json with the values, so the tests need no R):
#   cohort         ../../data/cohort.csv, the bundled nethep cohort: followup_months,
#                  died, surgical (treatment_group == "surgical"): 2 and 22 deaths
#   ovarian_resid  survival::ovarian, follow-up censored at 365 days, x = resid.ds == 2
#                  (residual disease): 1 and 6 deaths
#   ovarian_rx     survival::ovarian, follow-up censored at 270 days, x = rx == 2:
#                  4 and 0 deaths (no deaths in one group: monotone likelihood)
#   lung_sex_age   survival::lung rows 1 to 60, follow-up censored at 180 days,
#                  x = (female, age / 10): two coefficients, the profile maximises
#                  over the other
#
# Usage: Rscript tests/reference/make_firth_reference.R (paths relative to this file).
# coxphf is not installed here; these values do not depend on it.

source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))),
                 "setup.R"))  # survival, jsonlite, script_dir, setwd(script_dir): setup.R

censor_at <- function(time, event, at) {
  list(time = pmin(time, at), event = as.integer(event == 1 & time <= at))
}

cohort_raw <- read_cohort()
ov1 <- censor_at(ovarian$futime, ovarian$fustat, 365)
ov2 <- censor_at(ovarian$futime, ovarian$fustat, 270)
lung60 <- lung[1:60, ]
lu <- censor_at(lung60$time, as.integer(lung60$status == 2), 180)

datasets <- list(
  cohort = list(time = cohort_raw$followup_months, event = as.integer(cohort_raw$died),
                x = matrix(as.numeric(cohort_raw$treatment_group == "surgical")),
                names = "surgical"),
  ovarian_resid = list(time = ov1$time, event = ov1$event,
                       x = matrix(as.numeric(ovarian$resid.ds == 2)), names = "resid"),
  ovarian_rx = list(time = ov2$time, event = ov2$event,
                    x = matrix(as.numeric(ovarian$rx == 2)), names = "rx"),
  lung_sex_age = list(time = lu$time, event = lu$event,
                      x = cbind(as.numeric(lung60$sex == 2), lung60$age / 10),
                      names = c("female", "age10"))
)

penalised <- function(b, d, ties) {
  fit <- suppressWarnings(coxph(Surv(d$time, d$event) ~ d$x, ties = ties, init = b,
                                control = coxph.control(iter.max = 0)))
  info <- solve(vcov(fit))
  fit$loglik[2] + 0.5 * as.numeric(determinant(info, logarithm = TRUE)$modulus)
}

TOL <- 1e-12
INTERVAL <- c(-15, 15)

# max over coefficient k of l*, the other coefficient (if any) fixed at `other`
max_over <- function(d, ties, k, other) {
  p <- ncol(d$x)
  f <- function(v) {
    b <- numeric(p)
    b[k] <- v
    if (p == 2) b[3 - k] <- other
    penalised(b, d, ties)
  }
  optimize(f, INTERVAL, maximum = TRUE, tol = TOL)
}

# the profile penalised log-likelihood of coefficient j at value v
profile <- function(d, ties, j, v) {
  if (ncol(d$x) == 1) return(penalised(v, d, ties))
  max_over(d, ties, 3 - j, v)$objective
}

fit_firth <- function(d, ties) {
  p <- ncol(d$x)
  if (p == 1) {
    opt <- max_over(d, ties, 1, NA)
    coef <- opt$maximum
  } else {
    outer <- optimize(function(v) profile(d, ties, 1, v), INTERVAL, maximum = TRUE,
                      tol = TOL)
    coef <- c(outer$maximum, max_over(d, ties, 2, outer$maximum)$maximum)
  }
  lmax <- penalised(coef, d, ties)
  crit <- qchisq(0.95, 1)
  lower <- upper <- chisq <- numeric(p)
  for (j in seq_len(p)) {
    g <- function(v) 2 * (lmax - profile(d, ties, j, v)) - crit
    lower[j] <- uniroot(g, c(coef[j] - 12, coef[j]), tol = TOL)$root
    upper[j] <- uniroot(g, c(coef[j], coef[j] + 12), tol = TOL)$root
    chisq[j] <- 2 * (lmax - profile(d, ties, j, 0))
  }
  list(coef = coef, lower = lower, upper = upper, chisq = chisq,
       p = pchisq(chisq, 1, lower.tail = FALSE), loglik = lmax,
       loglik_null = penalised(numeric(p), d, ties))
}

cox_tests <- function(d, ties) {
  fit <- suppressWarnings(coxph(Surv(d$time, d$event) ~ d$x, ties = ties,
                                control = coxph.control(eps = 1e-12, iter.max = 100)))
  s <- summary(fit)
  monotone <- any(abs(coef(fit)) > 10)
  list(wald_p = if (monotone) NA else unname(s$waldtest["pvalue"]),
       lr_p = unname(s$logtest["pvalue"]), score_p = unname(s$sctest["pvalue"]),
       lr_statistic = unname(s$logtest["test"]), score_statistic = unname(s$sctest["test"]),
       estimable = !monotone)
}

cases <- list()
for (name in names(datasets)) {
  d <- datasets[[name]]
  for (ties in c("efron", "breslow")) {
    cases[[length(cases) + 1]] <- list(
      data = name, ties = ties, names = d$names,
      firth = fit_firth(d, ties), cox = cox_tests(d, ties),
      deaths = as.integer(tapply(d$event, d$x[, 1], sum))
    )
  }
}

out <- list(
  generator = "tests/reference/make_firth_reference.R",
  r_version_string = R.version.string,
  survival_version = as.character(packageVersion("survival")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  method = paste(
    "l*(b) = coxph(init = b, iter.max = 0)$loglik[2] + 0.5 log det solve(vcov(fit));",
    "maximised by optimize (nested for two coefficients), profile CI by uniroot",
    "(tol 1e-12), penalised LR test 2 (l*(b_hat) - max l*(b_j = 0)) on 1 df"),
  data = lapply(datasets, function(d) list(time = d$time, event = d$event,
                                           x = unname(d$x), names = d$names)),
  cases = cases
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           "firth.json")
