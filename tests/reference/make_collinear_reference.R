# Reference values for a Cox model with collinear covariates (nethep/cox.py coxph):
# R's coxph sets the coefficient of a covariate that is a linear combination of the
# covariates before it to NA (aliased) and fits the rest.
#
# Data set (written as CSV under data/): collinear_lung, survival::lung (NCCTG advanced
# lung cancer; Loprinzi et al. 1994): time (days), event (status 2 = dead -> 1), age
# (years), sex (1 male, 2 female), and x3 = age + sex.
#
# Models, coxph(Surv(time, event) ~ terms) with the default ties = "efron":
#   age + sex + x3   (x3 aliased)
#   age + x3 + sex   (sex aliased: the later column of a dependent set is the one dropped)
# For each: coef (NA for the aliased term), se, HR, 95% CI, Wald P, log-likelihood (null,
# final) and the aliased terms. (R 4.2.2 with survival 3.5-3 gives no warning; print(fit)
# shows the NA row, summary(fit) says "1 not defined because of singularities".)
#
# Usage: `make reference` (runs every make_*.R from tests/reference), or from anywhere
#   Rscript tests/reference/make_collinear_reference.R
# All paths are relative to tests/reference. The output holds versions but no dates or
# absolute paths, so a rerun on the same R and survival versions gives identical bytes.
# jsonlite's digits = NA writes 15 significant digits; NA is written as null.

source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))),
                 "setup.R"))  # survival, jsonlite, script_dir, setwd(script_dir): setup.R

df <- data.frame(time = survival::lung$time, event = as.integer(survival::lung$status == 2),
                 age = survival::lung$age, sex = survival::lung$sex)
df$x3 <- df$age + df$sex
csv <- file.path("data", "collinear_lung.csv")
write.csv(df, csv, row.names = FALSE)

num <- function(x) unname(as.numeric(x))

model_block <- function(terms) {
  fit <- coxph(as.formula(paste("Surv(time, event) ~", paste(terms, collapse = " + "))),
               data = df)
  s <- summary(fit)
  ci <- s$conf.int
  coef <- num(coef(fit))
  list(
    terms = I(terms), aliased = I(terms[is.na(coef)]),
    coef = coef, se = num(s$coefficients[terms, "se(coef)"]),
    hr = num(exp(coef)),
    lower = num(ci[terms, "lower .95"]), upper = num(ci[terms, "upper .95"]),
    p = num(s$coefficients[terms, "Pr(>|z|)"]),
    loglik = num(fit$loglik), n = fit$n, events = fit$nevent
  )
}

out <- list(
  generator = "tests/reference/make_collinear_reference.R",
  r_version_string = R.version.string,
  survival_version = as.character(packageVersion("survival")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  conventions = list(
    coxph = "coxph(Surv(time, event) ~ terms) (ties = \"efron\"); summary(fit) columns",
    missing = "R's NA (the aliased coefficient) is written as null"
  ),
  csv = csv,
  models = list(model_block(c("age", "sex", "x3")), model_block(c("age", "x3", "sex")))
)

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null",
                  null = "null"),
           "collinear.json", useBytes = TRUE)
message("wrote ", file.path(script_dir, "collinear.json"), " and ", csv)
