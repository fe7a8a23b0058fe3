# Shared preamble of the make_*.R reference scripts; each sources it first with
#
#   source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))), "setup.R"))
#
# (the script's own folder, from Rscript's --file= argument, so that both
# `make reference` (cd tests/reference && Rscript make_x.R) and
# `Rscript tests/reference/make_x.R` from the repository root find this file).
#
# It gives every script:
#   - the survival and jsonlite packages, loaded quietly (a script loads any other
#     package it needs, e.g. coin or boot, itself);
#   - script_dir, the absolute path of tests/reference, and the working directory set
#     to it: every path in a script is relative to tests/reference;
#   - read_cohort(): the bundled cohort, ../../data/cohort.csv, empty fields as NA;
#   - cohort_frame(cohort): the model frame of the robustness analyses (id, t, d,
#     surgical, islet, liver, age, mtt: months to treatment, arm);
#   - the propensity-weights block of make_iptw_reference.R and
#     make_robustness_reference.R: propensity_fit(), iptw_weights(), truncate_weights(),
#     smd() and kish().
# Nothing here writes a file or draws a random number, so the scripts' outputs are the
# same bytes as when each carried its own copy of these lines.

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

script_dir <- local({
  file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  if (length(file_arg) == 1L) dirname(normalizePath(sub("^--file=", "", file_arg))) else "."
})
setwd(script_dir)

read_cohort <- function() {
  read.csv(file.path("..", "..", "data", "cohort.csv"), stringsAsFactors = FALSE,
           na.strings = "")
}

cohort_frame <- function(cohort) {
  d <- data.frame(
    id = cohort$patient_id,
    t = cohort$followup_months,
    d = cohort$died,
    surgical = as.numeric(cohort$treatment_group == "surgical"),
    islet = as.numeric(cohort$tumor_type == "islet_cell"),
    liver = cohort$liver_involvement_pct,
    age = cohort$age_years,
    mtt = cohort$months_to_treatment
  )
  d$arm <- ifelse(d$surgical == 1, "surgical", "nonsurgical")
  d
}

# Propensity score: glm(surgical ~ islet + liver + age, binomial).
propensity_fit <- function(dd) glm(surgical ~ islet + liver + age, family = binomial, data = dd)

# Weights: ATT (1 for surgical, e / (1 - e) for non-surgical) or stabilized ATE
# (P(surgical) / e for surgical, (1 - P(surgical)) / (1 - e) for non-surgical).
iptw_weights <- function(dd, estimand, fit = propensity_fit(dd)) {
  ps <- unname(fitted(fit))
  p1 <- mean(dd$surgical)
  w <- if (estimand == "ATT") ifelse(dd$surgical == 1, 1, ps / (1 - ps))
       else ifelse(dd$surgical == 1, p1 / ps, (1 - p1) / (1 - ps))
  list(ps = ps, w = unname(w))
}

# Weights truncated at their 1st and 99th percentiles (quantile type 7).
truncate_weights <- function(w) {
  q <- unname(quantile(w, c(0.01, 0.99), type = 7))
  list(w = pmin(pmax(w, q[1]), q[2]), bounds = q)
}

# Standardised mean difference after weighting: weighted means, variances by
# cov.wt(method = "unbiased") (p (1 - p) for a binary covariate), pooled as the mean of
# the two arms' variances.
smd <- function(x, tr, wt, binary) {
  mom <- function(xs, ws) {
    m <- weighted.mean(xs, ws)
    v <- if (binary) m * (1 - m) else
      cov.wt(matrix(xs), wt = ws / sum(ws), method = "unbiased")$cov[1, 1]
    c(m, v)
  }
  a <- mom(x[tr == 1], wt[tr == 1])
  b <- mom(x[tr == 0], wt[tr == 0])
  (a[1] - b[1]) / sqrt((a[2] + b[2]) / 2)
}

# Kish's effective sample size of a set of weights.
kish <- function(x) sum(x)^2 / sum(x^2)
