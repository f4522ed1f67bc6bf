"""A labelled question set for the semantic cache benchmark (bench/semantic_cache.py).

Each row: (a question as first asked, the same question as someone else would type it,
a different question on the same topic that must NOT get the first one's answer). The
different questions are deliberately close (same subject, same words, another ask: a
number, a direction, a negation, another object), because those are the false hits that
hurt; unrelated questions are easy. Written for this benchmark, across the topics an
enterprise assistant is asked about (HR, IT, finance, security, product, general).
"""

from __future__ import annotations

TRIPLES: list[tuple[str, str, str]] = [
    # HR and leave
    (
        "How many days of annual leave do I get?",
        "How many annual leave days do I get?",
        "How many days of sick leave do I get?",
    ),
    (
        "How long is parental leave?",
        "What is the length of parental leave?",
        "Is parental leave paid in full?",
    ),
    (
        "Who approves my holiday requests?",
        "Who approves holiday requests?",
        "How far ahead must I request a holiday?",
    ),
    (
        "Can I carry over unused vacation days to next year?",
        "Can unused vacation days be carried over into the next year?",
        "Can I sell my unused vacation days back to the company?",
    ),
    (
        "What is the notice period when I resign?",
        "What notice period applies if I resign?",
        "What notice period applies if the company dismisses me?",
    ),
    (
        "How do I report a workplace injury?",
        "How do I report an injury at work?",
        "How do I report harassment at work?",
    ),
    (
        "When is payday each month?",
        "On which day of the month are we paid?",
        "When are bonuses paid out each year?",
    ),
    (
        "How do I update my bank details for payroll?",
        "How can I change my bank details for payroll?",
        "How do I update my home address in the HR system?",
    ),
    (
        "Is there a pension contribution from the employer?",
        "Does the employer contribute to my pension?",
        "Can I increase my own pension contribution?",
    ),
    (
        "How many days can I work from home per week?",
        "How many days per week can I work from home?",
        "Can I work from abroad for a month?",
    ),
    # IT
    ("How do I reset my password?", "How can I reset my password?", "How do I change my username?"),
    (
        "How do I connect to the VPN?",
        "How do I connect to the company VPN?",
        "Why is the VPN so slow?",
    ),
    (
        "How do I set up email on my phone?",
        "How can I set up my work email on my phone?",
        "How do I set up an out-of-office reply?",
    ),
    (
        "Who do I contact when my laptop breaks?",
        "Who should I contact if my laptop is broken?",
        "How often are laptops replaced?",
    ),
    (
        "How do I install software on my work computer?",
        "How can I install software on my work computer?",
        "How do I uninstall software from my work computer?",
    ),
    (
        "How do I share a large file with a customer?",
        "How can I share a large file with a client?",
        "How do I share my screen in a video call?",
    ),
    (
        "What should I do if I receive a phishing email?",
        "What do I do if I get a phishing email?",
        "How do I unsubscribe from marketing emails?",
    ),
    (
        "How do I book a meeting room?",
        "How can I book a meeting room?",
        "How do I cancel a meeting room booking?",
    ),
    (
        "How do I get access to the finance dashboard?",
        "How can I get access to the finance dashboard?",
        "Who owns the finance dashboard?",
    ),
    (
        "How do I enable two-factor authentication?",
        "How can I turn on two-factor authentication?",
        "How do I disable two-factor authentication?",
    ),
    # Finance and expenses
    (
        "How do I submit an expense claim?",
        "How can I submit an expense claim?",
        "How do I approve an expense claim?",
    ),
    (
        "What is the daily meal allowance when travelling?",
        "What is the daily allowance for meals when travelling?",
        "What is the hotel budget per night when travelling?",
    ),
    (
        "Can I expense a taxi home after working late?",
        "Can I claim a taxi home after working late?",
        "Can I expense a taxi to the airport?",
    ),
    (
        "When is the deadline for submitting expenses?",
        "What is the deadline for submitting expenses?",
        "When will my expenses be reimbursed?",
    ),
    (
        "Do I need a receipt for every expense?",
        "Is a receipt required for every expense?",
        "What happens if I lose a receipt?",
    ),
    (
        "Which credit card should I use for business travel?",
        "Which card do I use for business travel?",
        "What is the spending limit on my company credit card?",
    ),
    (
        "How do I raise a purchase order?",
        "How can I raise a purchase order?",
        "How do I cancel a purchase order?",
    ),
    (
        "Who signs contracts above 50,000 euros?",
        "Who signs contracts over 50,000 euros?",
        "Who signs contracts below 5,000 euros?",
    ),
    (
        "What is our fiscal year end?",
        "When does our fiscal year end?",
        "When does our fiscal year start?",
    ),
    (
        "How do I register a new supplier?",
        "How can I register a new supplier?",
        "How do I remove a supplier?",
    ),
    # Security and compliance
    (
        "Can I use my personal laptop for work?",
        "May I use my personal laptop for work?",
        "Can I use my work laptop for personal things?",
    ),
    (
        "How long do we keep customer data?",
        "How long is customer data kept?",
        "Where is customer data stored?",
    ),
    (
        "What counts as confidential information?",
        "What is considered confidential information?",
        "Who can see confidential information?",
    ),
    (
        "How do I report a lost badge?",
        "How do I report that I lost my badge?",
        "How do I get a visitor badge?",
    ),
    (
        "Is it allowed to use ChatGPT with customer data?",
        "Am I allowed to use ChatGPT with customer data?",
        "Is it allowed to use ChatGPT for writing code?",
    ),
    (
        "What is the password policy?",
        "What are the rules for passwords?",
        "How often must I change my password?",
    ),
    (
        "Who is our data protection officer?",
        "Who is the data protection officer?",
        "How do I file a data subject access request?",
    ),
    (
        "Do visitors need to sign an NDA?",
        "Must visitors sign an NDA?",
        "Do new employees need to sign an NDA?",
    ),
    # Product and customers
    (
        "What is the price of the enterprise plan?",
        "How much does the enterprise plan cost?",
        "What is the price of the starter plan?",
    ),
    (
        "Does the product support single sign-on?",
        "Does the product support SSO?",
        "Does the product support two-factor authentication?",
    ),
    (
        "What is the uptime guarantee in our SLA?",
        "What uptime does our SLA guarantee?",
        "What is the support response time in our SLA?",
    ),
    (
        "How do customers cancel their subscription?",
        "How can a customer cancel their subscription?",
        "How do customers upgrade their subscription?",
    ),
    (
        "Which regions is the service hosted in?",
        "In which regions is the service hosted?",
        "Which languages does the service support?",
    ),
    (
        "What is the maximum file upload size?",
        "What is the largest file that can be uploaded?",
        "What file types can be uploaded?",
    ),
    (
        "How do I escalate a customer complaint?",
        "How can I escalate a customer complaint?",
        "How do I close a customer complaint?",
    ),
    # Office and general
    (
        "What time does the office open?",
        "When does the office open?",
        "What time does the office close?",
    ),
    (
        "Is there parking at the office?",
        "Is parking available at the office?",
        "Is there a gym at the office?",
    ),
    (
        "Where can I find the company holiday calendar?",
        "Where is the company holiday calendar?",
        "Where can I find the org chart?",
    ),
    (
        "How do I order business cards?",
        "How can I order business cards?",
        "How do I order a new monitor?",
    ),
    (
        "Can I bring my dog to the office?",
        "Am I allowed to bring my dog to the office?",
        "Can I bring my child to the office?",
    ),
    ("What is 15% of 240?", "What's 15 percent of 240?", "What is 25% of 240?"),
    (
        "Translate 'good morning' into French",
        "How do you say 'good morning' in French?",
        "Translate 'good morning' into Spanish",
    ),
    (
        "Summarise the travel policy",
        "Give me a summary of the travel policy",
        "Summarise the expense policy",
    ),
    (
        "When is the next all-hands meeting?",
        "When is the next all hands?",
        "Where is the next all-hands meeting?",
    ),
]
