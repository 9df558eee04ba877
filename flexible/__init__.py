"""灵活就业人员医疗保险: a person's enrollment in the flexible-employment scheme, per year
(Xianyang 002).  Sits above enrollment: it asks enrollment for the person's resident
enrollment and cancels an unpaid one through enrollment's service."""
