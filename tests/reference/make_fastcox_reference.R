# Reference values for nethep/cox.py (vectorized Cox, cox.zph and log-rank),
# computed with R's survival package.
#
# Data sets (written as CSV under data/, one row per patient, columns time, event and
# the covariates / groups named below):
#   fastcox_lung      survival::lung (NCCTG advanced lung cancer; Loprinzi et al. 1994):
#                     time (days), event (status 2 = dead -> 1), sex (1 male, 2 female),
#                     age (years)
#   fastcox_veteran   survival::veteran (Veterans' Administration lung cancer trial;
#                     Kalbfleisch and Prentice 1980): time, event, trt (1 standard,
#                     2 test), celltype
#   fastcox_cohort    ../../data/cohort.csv, the bundled nethep cohort: followup_months,
#                     died, surgical (treatment_group == "surgical"), treatment_group
#   fastcox_ties      simulated with set.seed(20061001): 3,000 patients, exponential
#                     times rounded up to whole months (at most 60 distinct times, up to
#                     ~200 deaths on one time), uniform censoring, a binary x1 with
#                     log-HR -0.5, a continuous x2 with log-HR 0.3, and a 3-level group
#
# For each Cox model: coxph(ties = "efron") -- and for lung sex + age also
# ties = "breslow" -- coef, se, the variance matrix, HR with its 95% CI, Wald z and P,
# log-likelihood (null, final), iterations, n, events; and
# cox.zph(fit, transform = "km") per term and global (chisq, df, p).
# For each grouping: survdiff (rho = 0): n, observed, expected, variance matrix,
# chisq, df (print.survdiff's rule: groups with expected > 0, minus 1), p.
#
# Usage: `make reference` (runs every make_*.R from tests/reference), or from anywhere
#   Rscript tests/reference/make_fastcox_reference.R
# All paths are relative to tests/reference. The output holds versions but no dates or
# absolute paths, so a rerun on the same R and survival versions gives identical bytes.
# jsonlite's digits = NA writes 15 significant digits; NA and NaN are written as null.

source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))),
                 "setup.R"))  # survival, jsonlite, script_dir, setwd(script_dir): setup.R
dir.create("data", showWarnings = FALSE)

# ---------------------------------------------------------------------------------
# Data sets
# ---------------------------------------------------------------------------------

lung_df <- data.frame(
  time = survival::lung$time,
  event = as.integer(survival::lung$status == 2),
  sex = survival::lung$sex,
  age = survival::lung$age
)
veteran_df <- data.frame(
  time = survival::veteran$time,
  event = as.integer(survival::veteran$status),
  trt = survival::veteran$trt,
  celltype = as.character(survival::veteran$celltype)
)
cohort_raw <- read_cohort()
cohort_df <- data.frame(
  time = cohort_raw$followup_months,
  event = as.integer(cohort_raw$died),
  surgical = as.integer(cohort_raw$treatment_group == "surgical"),
  treatment_group = cohort_raw$treatment_group
)
ties_df <- local({
  set.seed(20061001)
  n <- 3000
  x1 <- rbinom(n, 1, 0.4)
  x2 <- round(rnorm(n), 2)
  group <- sample(c("a", "b", "c"), n, replace = TRUE, prob = c(0.5, 0.3, 0.2))
  rate <- 0.04 * exp(-0.5 * x1 + 0.3 * x2 + ifelse(group == "c", 0.4, 0))
  death <- rexp(n, rate)
  censor <- runif(n, 1, 60)
  data.frame(time = ceiling(pmin(death, censor)), event = as.integer(death <= censor),
             x1 = x1, x2 = x2, group = group)
})

datasets <- list(
  list(name = "lung", df = lung_df,
       source = "survival::lung; status 2 = dead -> event 1",
       cox = list(list(terms = "sex", ties = "efron"),
                  list(terms = c("sex", "age"), ties = "efron"),
                  list(terms = c("sex", "age"), ties = "breslow")),
       groupings = "sex"),
  list(name = "veteran", df = veteran_df,
       source = "survival::veteran (Veterans' Administration lung cancer trial)",
       cox = list(list(terms = "trt", ties = "efron")),
       groupings = c("trt", "celltype")),
  list(name = "cohort", df = cohort_df,
       source = "data/cohort.csv (nethep bundled cohort): surgical vs non-surgical",
       cox = list(list(terms = "surgical", ties = "efron")),
       groupings = "treatment_group"),
  list(name = "ties", df = ties_df,
       source = "simulated, set.seed(20061001): heavy ties on whole months",
       cox = list(list(terms = "x1", ties = "efron"),
                  list(terms = c("x1", "x2"), ties = "efron")),
       groupings = "group")
)

# ---------------------------------------------------------------------------------
# Estimates
# ---------------------------------------------------------------------------------

num <- function(x) I(as.numeric(x))

cox_block <- function(df, terms, ties) {
  form <- as.formula(paste("Surv(time, event) ~", paste(terms, collapse = " + ")))
  fit <- coxph(form, data = df, ties = ties)
  s <- summary(fit)
  zph <- cox.zph(fit, transform = "km")
  tab <- zph$table
  list(
    terms = I(terms), ties = ties, n = fit$n, events = fit$nevent,
    coef = num(coef(fit)), se = num(sqrt(diag(fit$var))),
    var = unname(fit$var),
    hr = num(exp(coef(fit))),
    lower = num(s$conf.int[, "lower .95"]), upper = num(s$conf.int[, "upper .95"]),
    z = num(s$coefficients[, "z"]), p = num(s$coefficients[, "Pr(>|z|)"]),
    loglik = num(fit$loglik), iterations = fit$iter,
    zph = list(
      chisq = num(tab[terms, "chisq"]), df = num(tab[terms, "df"]), p = num(tab[terms, "p"]),
      global_chisq = unname(tab["GLOBAL", "chisq"]), global_df = unname(tab["GLOBAL", "df"]),
      global_p = unname(tab["GLOBAL", "p"])
    )
  )
}

survdiff_block <- function(df, column) {
  g <- factor(df[[column]])
  sd <- survdiff(Surv(df$time, df$event) ~ g)
  list(column = column, levels = I(levels(g)), n = num(sd$n), observed = num(sd$obs),
       expected = num(sd$exp), var = unname(sd$var), chisq = sd$chisq,
       df = sum(sd$exp > 0) - 1, p = sd$pvalue)
}

results <- lapply(datasets, function(spec) {
  csv <- file.path("data", paste0("fastcox_", spec$name, ".csv"))
  write.csv(spec$df, csv, row.names = FALSE)
  list(
    name = spec$name, source = spec$source, csv = csv, n = nrow(spec$df),
    events = sum(spec$df$event),
    coxph = lapply(spec$cox, function(m) cox_block(spec$df, m$terms, m$ties)),
    survdiff = setNames(lapply(spec$groupings, function(g) survdiff_block(spec$df, g)),
                        spec$groupings)
  )
})
names(results) <- vapply(datasets, function(d) d$name, "")

out <- list(
  generator = "tests/reference/make_fastcox_reference.R",
  r_version_string = R.version.string,
  survival_version = as.character(packageVersion("survival")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  conventions = list(
    coxph = "coxph(Surv(time, event) ~ terms, ties = ties); se = sqrt(diag(fit$var))",
    zph = "cox.zph(fit, transform = \"km\") of this survival version (score test, >= 3.0)",
    survdiff = "survdiff(Surv(time, event) ~ factor(column)); levels in factor order",
    missing = "R's NA and NaN are written as null"
  ),
  datasets = results
)

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null",
                  null = "null"),
           "fastcox.json", useBytes = TRUE)
message("wrote ", file.path(script_dir, "fastcox.json"), " and ", length(datasets),
        " CSV files under ", file.path(script_dir, "data"))
