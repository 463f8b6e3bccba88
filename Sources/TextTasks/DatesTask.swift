import TensorCore

/// Dates written in fourteen formats, normalised to ISO 8601 (`YYYY-MM-DD`):
/// `the 5th of March 2021`, `3/5/2021`, `05.03.2021`, `Fri 5 Mar 2021` … → `2021-03-05`.
///
/// Numeric formats follow one fixed convention each, so no source is
/// ambiguous: slashes with a year last are US month/day/year, dots are
/// day.month.year, and a year first is always year/month/day.
struct DatesTask: ExampleMaker {
  static let spec = TaskSpec(
    name: "dates",
    summary: "dates in many formats to ISO 8601 (the 5th of March 2021 → 2021-03-05)",
    knobs: [
      TaskKnob(name: "min-year", summary: "earliest year (1...9999)", defaultValue: "1900"),
      TaskKnob(name: "max-year", summary: "latest year (min-year...9999)", defaultValue: "2099"),
    ],
    defaultSizes: (train: 20_000, valid: 500, test: 1000))

  static let months = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
  ]
  static let weekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
  static let formatCount = 14

  let firstDay: Int
  let lastDay: Int

  init(settings: TaskSettings) throws {
    let minYear = try settings.int("min-year", in: 1...9999)
    let maxYear = try settings.int("max-year", in: minYear...9999)
    firstDay = CivilDate(year: minYear, month: 1, day: 1).daysSinceEpoch
    lastDay = CivilDate(year: maxYear, month: 12, day: 31).daysSinceEpoch
  }

  func makeExample(using random: inout SeededRandom) -> Example {
    let days = random.nextInt(in: firstDay...lastDay)
    let format = random.nextInt(below: DatesTask.formatCount)
    let date = CivilDate(daysSinceEpoch: days)
    return Example(source: DatesTask.write(date, format: format), target: date.iso)
  }

  /// `date` in format number `format` (0..<formatCount).
  static func write(_ date: CivilDate, format: Int) -> String {
    let (y, m, d) = (date.year, date.month, date.day)
    let month = months[m - 1]
    let short = String(month.prefix(3))
    let weekday = weekdays[date.weekday]
    switch format {
    case 0: return "\(y)/\(pad2(m))/\(pad2(d))"
    case 1: return "\(m)/\(d)/\(y)"
    case 2: return "\(pad2(d)).\(pad2(m)).\(y)"
    case 3: return "\(month) \(d), \(y)"
    case 4: return "\(short) \(d), \(y)"
    case 5: return "\(d) \(month) \(y)"
    case 6: return "\(d) \(short) \(y)"
    case 7: return "\(month) \(ordinal(d)), \(y)"
    case 8: return "the \(ordinal(d)) of \(month) \(y)"
    case 9: return "\(weekday), \(month) \(d), \(y)"
    case 10: return "\(weekday.prefix(3)) \(d) \(short) \(y)"
    case 11: return "\(pad4(y))\(pad2(m))\(pad2(d))"
    case 12: return "\(d)-\(short)-\(y)"
    default: return "\(month.uppercased()) \(d) \(y)"
    }
  }

  static func ordinal(_ day: Int) -> String {
    if (11...13).contains(day % 100) { return "\(day)th" }
    switch day % 10 {
    case 1: return "\(day)st"
    case 2: return "\(day)nd"
    case 3: return "\(day)rd"
    default: return "\(day)th"
    }
  }

  static func pad2(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
  static func pad4(_ value: Int) -> String { String(repeating: "0", count: max(0, 4 - String(value).count)) + String(value) }
}

/// A proleptic Gregorian calendar date, converted to and from a day count
/// (days since 1970-01-01) with Howard Hinnant's civil-date algorithms.
struct CivilDate: Equatable {
  let year: Int
  let month: Int
  let day: Int

  init(year: Int, month: Int, day: Int) {
    self.year = year
    self.month = month
    self.day = day
  }

  init(daysSinceEpoch days: Int) {
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let shiftedMonth = (5 * dayOfYear + 2) / 153  // March = 0
    day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
    month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
    year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
  }

  var daysSinceEpoch: Int {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yearOfEra = y - era * 400
    let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
  }

  /// 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday).
  var weekday: Int { ((daysSinceEpoch % 7) + 11) % 7 }

  var iso: String { "\(DatesTask.pad4(year))-\(DatesTask.pad2(month))-\(DatesTask.pad2(day))" }
}
