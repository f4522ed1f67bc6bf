"""Labelled questions over the Python Language Reference topics that ship with CPython
(``pydoc_data/topics.py``: the text ``help()`` shows; written by the Python documentation
authors, not by us). Each question names the topic(s) that answer it; topics that contain
a labelled topic's text (``compound`` holds every compound statement, ``specialnames`` every
special-method section) are counted as relevant too, computed in knowledge_quality.py.

The questions were written before any retrieval run, from knowledge of the reference, in
three styles: plain paraphrases (no words from the heading), keyword-style lookups, and
questions naming an exact identifier or symbol.
"""

QUESTIONS: list[tuple[str, list[str]]] = [
    ("What happens when an assertion fails, and how are assertions turned off?", ["assert"]),
    ("How can I unpack an iterable into several variables in one statement?", ["assignment"]),
    ("How do I write a coroutine function with async def?", ["async"]),
    (
        "Why are names starting with two underscores rewritten inside a class body?",
        ["atom-identifiers"],
    ),
    ("If a key appears twice in a dict display, which value is kept?", ["dict"]),
    ("When is __getattr__ called compared with __getattribute__?", ["attribute-access"]),
    ("Does x += y modify a list in place or create a new object?", ["augassign"]),
    ("What kind of object can be used after the await keyword?", ["await"]),
    ("Which operator performs matrix multiplication?", ["binary"]),
    ("What does the ^ operator compute on integers?", ["bitwise"]),
    ("What is the object written as three dots?", ["bltin-ellipsis-object"]),
    (
        "What value does a function return when it has no return statement?",
        ["bltin-null-object", "return"],
    ),
    ("Which values count as false in an if condition?", ["truth"]),
    ("What do the and / or operators return when their operands are not booleans?", ["booleans"]),
    ("How do I leave a loop early so that its else clause is skipped?", ["break"]),
    ("How do I pass keyword arguments to a function from a dictionary with **?", ["calls"]),
    ("In what order are class decorators applied?", ["class"]),
    ("How is a chained comparison like a < b < c evaluated?", ["comparisons"]),
    (
        "Which two methods must an object define to work with the with statement?",
        ["context-managers", "with"],
    ),
    ("How do I skip the rest of the current loop iteration?", ["continue"]),
    (
        "If one operand is a float and the other an integer, what type is the result?",
        ["conversions"],
    ),
    ("What is the difference between __repr__ and __str__?", ["customization"]),
    ("How do I step through a program line by line in the debugger?", ["debugger"]),
    ("How do I remove a variable binding or a list element?", ["del"]),
    ("Can exec() change the local variables of a function?", ["dynamic-features"]),
    ("How do I write elif branches?", ["if", "else"]),
    ("How does Python decide which except clause handles an exception?", ["try", "exceptions"]),
    (
        "How are names resolved when code runs: local, enclosing, global, builtins?",
        ["execmodel", "naming"],
    ),
    ("What does a trailing comma do in an expression list?", ["exprlists"]),
    ("How do I write a float literal with an exponent?", ["floating"]),
    ("Does modifying a list while iterating over it with for cause problems?", ["for"]),
    ("How do I pad a number with zeros to a fixed width using format()?", ["formatstrings"]),
    ("When are default parameter values evaluated?", ["function"]),
    ("How can a function assign to a module-level variable?", ["global"]),
    (
        "What is the meaning of a single underscore _ in the interactive interpreter?",
        ["id-classes"],
    ),
    ("Which words are reserved keywords and cannot be used as identifiers?", ["identifiers"]),
    ("How is the from ... import * statement resolved and what does __all__ do?", ["import"]),
    ("How does the in operator test membership for containers that define __contains__?", ["in"]),
    ("Can I use underscores to group digits in integer literals like 1_000_000?", ["integers"]),
    ("How do I write a small anonymous function inline?", ["lambda"]),
    ("How can an inner function rebind a variable of the enclosing function?", ["nonlocal"]),
    (
        "How do I make my class support the + operator, including when it is on the right side?",
        ["numeric-types"],
    ),
    ("What are an object's identity, type and value?", ["objects"]),
    ("Which has higher precedence, not or and?", ["operator-summary"]),
    ("What statement does nothing and is used as a placeholder?", ["pass"]),
    ("What is the result of raising a negative number to a fractional power?", ["power"]),
    ("How do I chain exceptions with raise ... from?", ["raise"]),
    (
        "What happens to a return statement inside a try block with a finally clause?",
        ["return", "try"],
    ),
    (
        "Which methods do I implement to make a custom container support len() and indexing?",
        ["sequence-types"],
    ),
    ("What does shifting an integer left by n bits equal?", ["shifting"]),
    ("How do slice expressions with a step like a[::2] work?", ["slicings"]),
    ("What does the __dict__ attribute hold and what is __qualname__?", ["specialattrs"]),
    ("How do I remove a prefix from a string?", ["string-methods"]),
    ("What does the r prefix do in a string literal?", ["strings"]),
    ("What is the difference between bytes and str literals?", ["strings"]),
    (
        "What happens when I index a dictionary with a key that does not exist?",
        ["subscriptions", "typesmapping"],
    ),
    ("What are the built-in numeric types and how is bool related to int?", ["types"]),
    ("How do I merge two dictionaries with the | operator?", ["typesmapping"]),
    ("What is a bound method and what does __self__ refer to?", ["typesmethods"]),
    ("What does range() return and is it a list?", ["typesseq"]),
    ("How do I insert an element at a given position in a list?", ["typesseq-mutable"]),
    ("What is the bitwise inversion of x, as in ~x?", ["unary"]),
    ("How does a while loop with an else clause behave?", ["while"]),
    ("How does a generator function pause and resume with yield?", ["yield"]),
    ("str.splitlines", ["string-methods"]),
    ("__init_subclass__", ["specialnames"]),
    ("__slots__", ["attribute-access"]),
    ("PEP 634 match statement", ["compound"]),
    ("f-string format specification mini-language", ["formatstrings"]),
]
